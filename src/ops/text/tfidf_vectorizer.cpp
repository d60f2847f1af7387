// TfIdfVectorizer: counts the n-grams of a pool (with skips) in each row and weights them (TF, IDF, TFIDF).
#include <climits>
#include <map>

#include "base/lazy_text.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// An n-gram key: the token ids (integers, or indices into the string pool) of its items.
using Gram = std::vector<int64_t>;

struct TfIdfModel {
  int64_t min_gram = 1, max_gram = 1, max_skip = 0;
  std::string mode;
  std::map<Gram, int64_t> output_index;  // gram -> output column
  std::map<std::string, int64_t> string_ids;  // string token -> id (string pools)
  std::vector<float> weights;
  int64_t output_size = 0;
  bool strings = false;
};

TfIdfModel parse_model(const Node& node) {
  TfIdfModel m;
  m.min_gram = node.attr_int("min_gram_length", 1);
  m.max_gram = node.attr_int("max_gram_length", 1);
  m.max_skip = node.attr_int("max_skip_count", 0);
  m.mode = node.attr_string("mode", "TF");
  check_model(m.mode == "TF" || m.mode == "IDF" || m.mode == "TFIDF", node.label(), ": unknown mode '", m.mode, "'");
  check_model(m.min_gram >= 1 && m.max_gram >= m.min_gram, node.label(), ": bad gram lengths");
  const std::vector<int64_t> counts = node.attr_ints("ngram_counts");
  const std::vector<int64_t> indexes = node.attr_ints("ngram_indexes");
  std::vector<int64_t> pool = node.attr_ints("pool_int64s");
  const std::vector<std::string> pool_strings = node.attr_strings("pool_strings");
  m.weights = node.attr_floats("weights");
  if (!pool_strings.empty()) {
    m.strings = true;
    pool.clear();
    for (const std::string& s : pool_strings) {
      auto [it, inserted] = m.string_ids.emplace(s, static_cast<int64_t>(m.string_ids.size()));
      pool.push_back(it->second);
    }
  }
  size_t gram_number = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    const int64_t n = static_cast<int64_t>(k) + 1;
    const int64_t begin = counts[k];
    const int64_t end = k + 1 < counts.size() ? counts[k + 1] : static_cast<int64_t>(pool.size());
    check_model(begin >= 0 && end <= static_cast<int64_t>(pool.size()) && (end - begin) % n == 0, node.label(),
                ": ngram_counts do not fit the pool");
    for (int64_t at = begin; at < end; at += n, ++gram_number) {
      check_model(gram_number < indexes.size(), node.label(), ": fewer ngram_indexes than n-grams in the pool");
      m.output_index[Gram(pool.begin() + at, pool.begin() + at + n)] = indexes[gram_number];
      m.output_size = std::max(m.output_size, indexes[gram_number] + 1);
    }
  }
  return m;
}

std::unique_ptr<Kernel> make_tfidf(const KernelInfo& info) {
  const TfIdfModel m = parse_model(info.node);
  return make_kernel([m](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.rank() == 1 || x.rank() == 2, "X must be 1-D or 2-D, got ", tensor_text(x));
    check_argument(m.strings == (x.dtype() == DType::kString), "X ", tensor_text(x), " does not match the pool type");
    const int64_t rows = x.rank() == 2 ? x.dim(0) : 1;
    const int64_t cols = x.rank() == 2 ? x.dim(1) : x.element_count();
    std::vector<int64_t> tokens(static_cast<size_t>(x.element_count()));
    for (int64_t i = 0; i < x.element_count(); ++i) {
      if (m.strings) {
        auto it = m.string_ids.find(x.data<std::string>()[i]);
        tokens[i] = it == m.string_ids.end() ? -1 : it->second;
      } else {
        tokens[i] = x.dtype() == DType::kInt32 ? x.data<int32_t>()[i] : x.data<int64_t>()[i];
      }
    }
    std::vector<int64_t> shape = x.rank() == 2 ? std::vector<int64_t>{rows, m.output_size} : std::vector<int64_t>{m.output_size};
    Tensor& y = ctx.allocate_output(0, DType::kFloat, shape);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> counts(static_cast<size_t>(m.output_size), 0.0f);
      const int64_t* row = &tokens[r * cols];
      for (int64_t n = m.min_gram; n <= m.max_gram; ++n) {
        const int64_t skips = n == 1 ? 0 : m.max_skip;  // unigrams are counted once
        for (int64_t skip = 0; skip <= skips; ++skip) {
          const int64_t span = (n - 1) * (skip + 1);
          for (int64_t start = 0; start + span < cols; ++start) {
            Gram gram;
            for (int64_t k = 0; k < n; ++k) gram.push_back(row[start + k * (skip + 1)]);
            auto it = m.output_index.find(gram);
            if (it != m.output_index.end()) counts[it->second] += 1.0f;
          }
        }
      }
      for (int64_t j = 0; j < m.output_size; ++j) {
        const float w = m.weights.empty() ? 1.0f : m.weights[j];
        float v = counts[j];
        if (m.mode == "IDF") v = v > 0 ? w : 0.0f;
        else if (m.mode == "TFIDF") v = v * w;
        y.data<float>()[r * m.output_size + j] = v;
      }
    }
  });
}

const RegisterOp kTfIdfVectorizer{{.op_type = "TfIdfVectorizer", .since_version = 9, .factory = make_tfidf}};

}  // namespace
}  // namespace tessera
