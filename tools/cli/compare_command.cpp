// tessera compare: run one model under two configurations (or two models) on the same feeds and report, value by
// value in graph order, how far they part — naming the first node where they differ beyond the tolerance.
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/html.h"
#include "cli_common.h"
#include "commands.h"
#include "compare/model_compare.h"
#include "feeds.h"
#include "npy.h"

namespace tessera::cli {

namespace {

int int_argument(const Arguments& arguments, const std::string& flag, int fallback) {
  auto text = arguments.value(flag);
  if (!text) return fallback;
  try {
    return std::stoi(*text);
  } catch (const std::exception&) {
    throw UsageError{flag + " needs an integer, got '" + *text + "'"};
  }
}

double double_argument(const Arguments& arguments, const std::string& flag, double fallback) {
  auto text = arguments.value(flag);
  if (!text) return fallback;
  try {
    return std::stod(*text);
  } catch (const std::exception&) {
    throw UsageError{flag + " needs a number, got '" + *text + "'"};
  }
}

// Side "a" or "b" from --opt-level-a/--threads-a/--disable-pass-a (and the shared --opt-level/--threads).
CompareSide side_from(const Arguments& arguments, const std::string& path, const std::string& which,
                      OptimizationLevel default_level) {
  CompareSide side;
  side.model_path = path;
  side.options.optimization_level = default_level;
  std::string level_name = default_level == OptimizationLevel::kDisabled ? "disabled" : "all";
  for (const std::string& flag : {std::string("--opt-level"), "--opt-level-" + which}) {
    if (auto text = arguments.value(flag)) {
      side.options.optimization_level = opt_level_argument(*text);
      level_name = *text;
    }
  }
  side.options.intra_op_threads =
      int_argument(arguments, "--threads-" + which, int_argument(arguments, "--threads", 1));
  side.options.disabled_passes = arguments.values("--disable-pass-" + which);
  side.label = path + " (opt-level " + level_name + ", threads " + std::to_string(side.options.intra_op_threads);
  if (auto text = arguments.value("--precision-" + which)) {
    side.options.matmul_precision = precision_argument("--precision-" + which, *text);
    side.label += ", precision " + *text;
  }
  for (const std::string& pass : side.options.disabled_passes) side.label += ", without " + pass;
  side.label += ")";
  return side;
}

// A self-contained page: the error of every value along the graph (log scale, tolerance line) and the table.
void write_html(const std::string& path, const CompareSide& a, const CompareSide& b, const ModelComparison& c,
                double rtol) {
  std::ofstream out(path);
  if (!out) fail(ErrorCode::kIo, "cannot write '", path, "'");
  constexpr double kWidth = 960, kHeight = 320, kTop = 1, kBottom = -12;  // log10(relative error) range shown
  auto x_of = [&](size_t i) {
    return 40 + (kWidth - 60) * (c.values.size() > 1 ? double(i) / double(c.values.size() - 1) : 0.5);
  };
  auto y_of = [&](double rel) {
    const double l = std::clamp(rel > 0 ? std::log10(rel) : kBottom, kBottom, kTop);
    return 10 + (kHeight - 40) * (kTop - l) / (kTop - kBottom);
  };
  out << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>tessera compare</title><style>"
         "body{font-family:sans-serif}td,th{padding:2px "
         "8px;text-align:left}tr.bad{background:#fdd}</style></head><body>"
      << "<h2>tessera compare</h2><p>A: " << html_escape(a.label) << "<br>B: " << html_escape(b.label) << "</p>";
  out << "<svg width=\"" << kWidth << "\" height=\"" << kHeight << "\" style=\"border:1px solid #ccc\">";
  for (int l = static_cast<int>(kBottom); l <= static_cast<int>(kTop); l += 2) {
    out << "<text x=\"2\" y=\"" << y_of(std::pow(10.0, l)) + 4 << "\" font-size=\"10\">1e" << l << "</text>";
  }
  out << "<line x1=\"40\" x2=\"" << kWidth - 20 << "\" y1=\"" << y_of(rtol) << "\" y2=\"" << y_of(rtol)
      << "\" stroke=\"orange\" stroke-dasharray=\"4\"/><polyline fill=\"none\" stroke=\"steelblue\" points=\"";
  for (size_t i = 0; i < c.values.size(); ++i) out << x_of(i) << "," << y_of(c.values[i].relative) << " ";
  out << "\"/>";
  for (size_t i = 0; i < c.values.size(); ++i) {
    if (!c.values[i].diverges) continue;
    out << "<circle cx=\"" << x_of(i) << "\" cy=\"" << y_of(c.values[i].relative) << "\" r=\"3\" fill=\"red\"><title>"
        << html_escape(c.values[i].node + " (" + c.values[i].op + ")") << "</title></circle>";
  }
  out << "<text x=\"" << kWidth / 2 - 140 << "\" y=\"" << kHeight - 8
      << "\" font-size=\"11\">relative error per value, in graph order (orange: rtol)</text></svg>";
  out << "<table><tr><th>#</th><th>node</th><th>op</th><th>value</th><th>max abs</th><th>relative</th><th></th></tr>";
  for (size_t i = 0; i < c.values.size(); ++i) {
    const ValueDiff& d = c.values[i];
    char abs_text[32], rel_text[32];
    std::snprintf(abs_text, sizeof abs_text, "%.3g", d.max_abs);
    std::snprintf(rel_text, sizeof rel_text, "%.3g", d.relative);
    out << "<tr" << (d.diverges ? " class=\"bad\"" : "") << "><td>" << i << "</td><td>" << html_escape(d.node)
        << "</td><td>" << html_escape(d.op) << "</td><td>" << html_escape(d.value) << "</td><td>" << abs_text
        << "</td><td>" << rel_text << "</td><td>" << html_escape(d.note) << "</td></tr>";
  }
  out << "</table></body></html>\n";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Side B in ONNX Runtime through its Python wheel: the feeds go to a folder as .npy, the capture script runs the
// model with every node output exposed and writes them back as .npy (with values.json: name, node, op, file).
CapturedRun capture_in_onnxruntime(const Arguments& arguments, const std::string& model,
                                   const std::vector<std::pair<std::string, RuntimeValue>>& feeds,
                                   const std::string& level) {
  const char* env_python = std::getenv("TESSERA_PYTHON");
  const std::string python = arguments.value("--python").value_or(env_python != nullptr ? env_python : "python3");
  const std::string script = arguments.value("--capture-script").value_or(TESSERA_ORT_CAPTURE_SCRIPT);
  char pattern[] = "/tmp/tessera-compare-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) fail(ErrorCode::kIo, "cannot create a temporary folder");
  const std::filesystem::path dir(pattern);
  std::filesystem::create_directories(dir / "feeds");
  nlohmann::json names = nlohmann::json::array();
  for (size_t k = 0; k < feeds.size(); ++k) {
    if (!feeds[k].second.is_tensor()) fail(ErrorCode::kUnsupported, "input '", feeds[k].first, "' is not a tensor");
    write_file((dir / "feeds" / (std::to_string(k) + ".npy")).string(), tensor_to_npy(feeds[k].second.tensor()));
    names.push_back(feeds[k].first);
  }
  write_file((dir / "feeds" / "feeds.json").string(), names.dump());
  const std::string command = shell_quote(python) + " " + shell_quote(script) + " " + shell_quote(model) + " " +
                              shell_quote((dir / "feeds").string()) + " " + shell_quote((dir / "out").string()) +
                              " --opt-level " + shell_quote(level);
  const int status = std::system(command.c_str());
  if (status != 0) {
    std::filesystem::remove_all(dir);
    fail(ErrorCode::kRuntime, "ONNX Runtime capture failed (", command,
         "): is onnxruntime installed for that Python? (--python PATH or TESSERA_PYTHON selects another)");
  }
  CapturedRun run;
  const nlohmann::json values = nlohmann::json::parse(read_file((dir / "out" / "values.json").string()));
  for (const auto& v : values) {
    const std::string name = v[0];
    run.order.push_back(name);
    run.node_of[name] = v[1];
    run.op_of[name] = v[2];
    run.values[name] = tensor_from_npy(read_file((dir / "out" / v[3].get<std::string>()).string()), name);
  }
  std::filesystem::remove_all(dir);
  return run;
}

nlohmann::ordered_json diff_json(const ValueDiff& d) {
  return {{"value", d.value},       {"node", d.node},       {"op", d.op},
          {"max_abs", d.max_abs},   {"ref_max", d.ref_max}, {"relative", d.relative},
          {"diverges", d.diverges}, {"note", d.note}};
}

}  // namespace

int compare_command(const std::vector<std::string>& args) {
  const Arguments arguments(args,
                            {"--input-dir", "--input", "--opt-level", "--opt-level-a", "--opt-level-b", "--threads",
                             "--threads-a", "--threads-b", "--disable-pass-a", "--disable-pass-b", "--precision-a", "--precision-b",
                             "--rtol", "--atol",
                             "--html", "--runtime-b", "--python", "--capture-script"},
                            {"--random-inputs", "--json"});
  const auto& paths = arguments.positional();
  if (paths.empty() || paths.size() > 2) throw UsageError{"compare needs one MODEL (two configurations) or two MODELs"};
  const bool one_model = paths.size() == 1;
  // One model: unoptimized against fully optimized by default. Two models: each as written.
  const CompareSide a = side_from(arguments, paths[0], "a", OptimizationLevel::kDisabled);
  const CompareSide b = side_from(arguments, one_model ? paths[0] : paths[1], "b",
                                  one_model ? OptimizationLevel::kAll : OptimizationLevel::kDisabled);
  const double rtol = double_argument(arguments, "--rtol", 1e-4);
  const double atol = double_argument(arguments, "--atol", 1e-6);

  const std::string runtime_b = arguments.value("--runtime-b").value_or("tessera");
  if (runtime_b != "tessera" && runtime_b != "onnxruntime") {
    throw UsageError{"--runtime-b is tessera or onnxruntime, got '" + runtime_b + "'"};
  }
  const bool ort_b = runtime_b == "onnxruntime";
  const CapturingSession session_a(a);
  std::unique_ptr<CapturingSession> session_b = ort_b ? nullptr : std::make_unique<CapturingSession>(b);
  // Without --input or --input-dir, every input is random (seeded, so both sides and reruns see the same feeds).
  const bool given = arguments.value("--input").has_value() || arguments.value("--input-dir").has_value();
  const auto feeds = gather_feeds(session_a.inputs(), session_a.defaulted_inputs(), arguments,
                                  !given || arguments.has("--random-inputs"));
  // ONNX Runtime runs unoptimized unless --opt-level-b says otherwise (its fused values would not be exposed).
  const std::string ort_level = arguments.value("--opt-level-b").value_or("disabled");
  const CapturedRun run_b =
      ort_b ? capture_in_onnxruntime(arguments, b.model_path, feeds, ort_level) : session_b->run(feeds);
  CompareSide shown_b = b;
  if (ort_b)
    shown_b.label = b.model_path + " (ONNX Runtime " + std::string("CPU provider, opt-level ") + ort_level + ")";
  const ModelComparison c = compare_runs(session_a.run(feeds), run_b, rtol, atol);

  const ValueDiff* worst = nullptr;
  for (const ValueDiff& d : c.values)
    if (worst == nullptr || d.relative > worst->relative) worst = &d;
  if (arguments.has("--json")) {
    nlohmann::ordered_json values = nlohmann::ordered_json::array();
    for (const ValueDiff& d : c.values) values.push_back(diff_json(d));
    const nlohmann::ordered_json json = {
        {"a", a.label},
        {"b", shown_b.label},
        {"rtol", rtol},
        {"atol", atol},
        {"compared", c.values.size()},
        {"only_in_a", c.only_in_a},
        {"only_in_b", c.only_in_b},
        {"first_divergence",
         c.first_divergence >= 0 ? diff_json(c.values[c.first_divergence]) : nlohmann::ordered_json()},
        {"values", values}};
    std::printf("%s\n", json.dump(2).c_str());
  } else {
    std::printf("A: %s\nB: %s\n", a.label.c_str(), shown_b.label.c_str());
    std::printf("%5s  %-12s  %-11s  %-11s  %s\n", "#", "max abs", "relative", "op", "node -> value");
    for (size_t i = 0; i < c.values.size(); ++i) {
      const ValueDiff& d = c.values[i];
      std::printf("%5zu  %-12.3g  %-11.3g  %-11s  %s -> %s%s%s\n", i, d.max_abs, d.relative, d.op.c_str(),
                  d.node.c_str(), d.value.c_str(), d.diverges ? "   <-- DIVERGES" : "",
                  d.note.empty() ? "" : ("  (" + d.note + ")").c_str());
    }
    std::printf("%zu values compared; %zu only in A, %zu only in B (fused or folded away)\n", c.values.size(),
                c.only_in_a, c.only_in_b);
    if (worst != nullptr) {
      std::printf("largest relative error: %.3g at node '%s' (%s)\n", worst->relative, worst->node.c_str(),
                  worst->op.c_str());
    }
    if (c.first_divergence >= 0) {
      const ValueDiff& d = c.values[c.first_divergence];
      std::printf(
          "first divergence beyond rtol %g / atol %g: node '%s' (%s), value '%s': max abs %.3g, relative %.3g\n", rtol,
          atol, d.node.c_str(), d.op.c_str(), d.value.c_str(), d.max_abs, d.relative);
    } else {
      std::printf("no value differs beyond rtol %g / atol %g\n", rtol, atol);
    }
  }
  if (auto html = arguments.value("--html")) write_html(*html, a, shown_b, c, rtol);
  return c.first_divergence >= 0 ? kExitRunError : kExitOk;
}

}  // namespace tessera::cli
