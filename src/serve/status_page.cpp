#include "serve/status_page.h"

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "base/html.h"

namespace tessera::serve {

namespace {

using nlohmann::json;

json status_document(const ModelRepository& repository) {
  std::map<std::string, std::shared_ptr<ServedModel>> loaded;
  for (const auto& model : repository.loaded()) loaded[model->name() + "/" + model->version_string()] = model;
  json models = json::array();
  for (const ModelIndexEntry& row : repository.index()) {
    json entry = {{"name", row.name}, {"version", row.version}, {"state", row.state}, {"reason", row.reason}};
    const auto found = loaded.find(row.name + "/" + row.version);
    if (found != loaded.end()) {
      const StatisticsSnapshot s = found->second->statistics().snapshot();
      entry["success"] = s.success.count;
      entry["failure"] = s.fail.count;
      entry["inference_count"] = s.inference_count;
      entry["execution_count"] = s.execution_count;
      entry["latency_bounds_us"] = kLatencyBucketBoundsUs;
      entry["latency_counts"] = s.latency_buckets;
    }
    models.push_back(std::move(entry));
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {{"models", models}, {"time_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()}};
}

// The table rows as the server renders them; the script replaces them on each refresh.
std::string model_rows(const json& document) {
  std::string rows;
  for (const json& m : document["models"]) {
    rows += "<tr class=\"model\" data-name=\"" + html_escape(m["name"]) + "\"><td>" + html_escape(m["name"]) +
            "</td><td>" + html_escape(m["version"]) + "</td><td class=\"state " + html_escape(m["state"]) + "\">" +
            html_escape(m["state"]) + "</td><td>" +
            (m.contains("success") ? std::to_string(m["success"].get<uint64_t>()) : "") + "</td><td>" +
            (m.contains("failure") ? std::to_string(m["failure"].get<uint64_t>()) : "") +
            "</td><td class=\"rate\">-</td>" + "<td class=\"histogram\"></td><td>" + html_escape(m["reason"]) +
            "</td></tr>\n";
  }
  return rows;
}

constexpr const char* kPageHead = R"(<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>tessera serve</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; } td, th { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }
.READY { color: #070; font-weight: bold; } .UNAVAILABLE { color: #a00; font-weight: bold; }
.bars { display: flex; align-items: flex-end; height: 40px; gap: 1px; }
.bars div { width: 8px; background: #36c; min-height: 1px; }
</style></head><body>
<h1>tessera serve</h1>
<p>Models of the repository; request rate and latency histogram (successful requests, end to end; buckets up to
100 us ... 1 s and above) refresh every 2 s.</p>
<table><thead><tr><th>model</th><th>version</th><th>state</th><th>success</th><th>failure</th><th>req/s</th>
<th>latency histogram</th><th>reason</th></tr></thead><tbody id="models">
)";

constexpr const char* kPageTail = R"(</tbody></table>
<script>
let previous = null;
function bars(counts, bounds) {
  const top = Math.max(1, ...counts);
  return '<div class="bars">' + counts.map((c, i) =>
    `<div title="${i < bounds.length ? '<= ' + bounds[i] + ' us' : '> ' + bounds[bounds.length - 1] + ' us'}: ${c}"` +
    ` style="height:${Math.round(40 * c / top)}px"></div>`).join('') + '</div>';
}
function text(value) { const d = document.createElement('div'); d.textContent = value ?? ''; return d.innerHTML; }
async function refresh() {
  try {
    const now = await (await fetch('/status.json')).json();
    const rows = now.models.map(m => {
      const key = m.name + '/' + m.version;
      const before = previous && previous.models.find(p => p.name + '/' + p.version === key);
      const seconds = previous ? (now.time_ms - previous.time_ms) / 1000 : 0;
      const rate = before && seconds > 0 ? ((m.success - before.success) / seconds).toFixed(1) : '-';
      return `<tr class="model" data-name="${text(m.name)}"><td>${text(m.name)}</td><td>${text(m.version)}</td>` +
        `<td class="state ${text(m.state)}">${text(m.state)}</td><td>${m.success ?? ''}</td><td>${m.failure ?? ''}</td>` +
        `<td class="rate">${rate}</td><td class="histogram">${m.latency_counts ? bars(m.latency_counts, m.latency_bounds_us) : ''}</td>` +
        `<td>${text(m.reason)}</td></tr>`;
    });
    document.getElementById('models').innerHTML = rows.join('\n');
    previous = now;
  } catch (e) { /* the server may be restarting: try again at the next tick */ }
}
refresh();
setInterval(refresh, 2000);
</script></body></html>
)";

}  // namespace

std::string status_json(const ModelRepository& repository) { return status_document(repository).dump(); }

std::string status_page_html(const ModelRepository& repository) {
  return std::string(kPageHead) + model_rows(status_document(repository)) + kPageTail;
}

}  // namespace tessera::serve
