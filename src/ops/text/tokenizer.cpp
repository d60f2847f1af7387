// com.microsoft Tokenizer (what skl2onnx writes for TfidfVectorizer / CountVectorizer pipelines): splits each
// string of X ([C] or [N, C]) into tokens along a new last axis of D = the most tokens of any string (+2 with
// `mark`: "\x02" first and "\x03" last), shorter rows padded with `pad_value` after the end mark. Two modes, as
// ONNX Runtime's:
//   - `separators` (a list of regular expressions): the text between consecutive separator matches (the earliest
//     match of any separator at each step) makes the tokens; [""] tokenizes into characters;
//   - `tokenexp` (one regular expression): each match found scanning from the start is a token, the scan going on
//     after the match (one character on, past an empty match); "." tokenizes into characters.
// Tokens of fewer than `mincharnum` characters (UTF-8 code points) are dropped; empty tokens always are. The
// expressions are ECMAScript (std::regex) rather than ONNX Runtime's RE2: the character classes, repetitions and
// alternations converters write read the same in both; RE2-only syntax is refused at session creation.
#include <climits>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// Code points in a UTF-8 string (bytes that do not continue a sequence).
int64_t utf8_length(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The UTF-8 characters of s, one string each.
std::vector<std::string> utf8_characters(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t j = i + 1;
    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

struct TokenizerConfig {
  bool mark = false;
  std::string pad_value;
  int64_t mincharnum = 1;
  bool characters = false;  // separators [""] or tokenexp "."
  std::vector<std::shared_ptr<const std::regex>> separators;
  std::shared_ptr<const std::regex> token;
};

std::shared_ptr<const std::regex> compile(const Node& node, const std::string& pattern, const char* what) {
  try {
    return std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    fail(ErrorCode::kInvalidModel, node.label(), ": Tokenizer ", what, " '", pattern,
         "' is not a regular expression Tessera reads (ECMAScript syntax)");
  }
}

TokenizerConfig parse_config(const Node& node) {
  TokenizerConfig c;
  c.mark = node.attr_int("mark", 0) != 0;
  c.pad_value = node.attr_string("pad_value", "");
  c.mincharnum = node.attr_int("mincharnum", 1);
  check_model(c.mincharnum >= 1, node.label(), ": Tokenizer mincharnum must be >= 1, got ", c.mincharnum);
  const std::vector<std::string> separators = node.attr_strings("separators");
  const bool has_tokenexp = node.has_attribute("tokenexp");
  check_model(has_tokenexp != !separators.empty(), node.label(),
              ": Tokenizer needs exactly one of 'tokenexp' and 'separators'");
  if (has_tokenexp) {
    const std::string pattern = node.attr_string("tokenexp", "");
    c.characters = pattern == ".";
    if (!c.characters) c.token = compile(node, pattern, "tokenexp");
  } else {
    c.characters = separators.size() == 1 && separators[0].empty();
    for (const std::string& s : separators) {
      check_model(c.characters || !s.empty(), node.label(), ": Tokenizer separators must not be empty strings");
      if (!c.characters) c.separators.push_back(compile(node, s, "separator"));
    }
  }
  return c;
}

std::vector<std::string> tokenize(const TokenizerConfig& c, const std::string& text) {
  std::vector<std::string> tokens;
  const auto keep = [&](std::string token) {
    if (!token.empty() && utf8_length(token) >= c.mincharnum) tokens.push_back(std::move(token));
  };
  if (c.characters) {
    for (std::string& ch : utf8_characters(text)) keep(std::move(ch));
    return tokens;
  }
  if (c.token != nullptr) {
    auto begin = text.cbegin();
    std::smatch m;
    while (begin != text.cend() && std::regex_search(begin, text.cend(), m, *c.token)) {
      keep(m.str());
      begin = m[0].second == m[0].first ? m[0].second + 1 : m[0].second;
      if (m[0].second == text.cend()) break;
    }
    return tokens;
  }
  // Separators: cut at the earliest match of any of them (the longest on a tie), keep the text before it.
  auto begin = text.cbegin();
  while (begin != text.cend()) {
    std::smatch best;
    bool found = false;
    for (const auto& separator : c.separators) {
      std::smatch m;
      if (!std::regex_search(begin, text.cend(), m, *separator) || m.length(0) == 0) continue;
      if (!found || m.position(0) < best.position(0) ||
          (m.position(0) == best.position(0) && m.length(0) > best.length(0))) {
        best = m;
        found = true;
      }
    }
    if (!found) {
      keep(std::string(begin, text.cend()));
      break;
    }
    keep(std::string(begin, best[0].first));
    begin = best[0].second;
  }
  return tokens;
}

std::unique_ptr<Kernel> make_tokenizer(const KernelInfo& info) {
  const TokenizerConfig config = parse_config(info.node);
  return make_kernel([config](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.dtype() == DType::kString && (x.rank() == 1 || x.rank() == 2), "Tokenizer: input X ",
                   tensor_text(x), " must be a string tensor [C] or [N, C]");
    std::vector<std::vector<std::string>> all(static_cast<size_t>(x.element_count()));
    size_t widest = 0;
    for (int64_t i = 0; i < x.element_count(); ++i) {
      all[static_cast<size_t>(i)] = tokenize(config, x.data<std::string>()[i]);
      widest = std::max(widest, all[static_cast<size_t>(i)].size());
    }
    const size_t extra = config.mark ? 2 : 0;
    std::vector<int64_t> shape = x.shape();
    shape.push_back(x.element_count() == 0 ? 0 : static_cast<int64_t>(widest + extra));
    Tensor& y = ctx.allocate_output(0, DType::kString, shape);
    const size_t row = widest + extra;
    for (size_t i = 0; i < all.size(); ++i) {
      std::string* out = y.data<std::string>() + i * row;
      size_t k = 0;
      if (config.mark) out[k++] = "\x02";
      for (std::string& token : all[i]) out[k++] = std::move(token);
      if (config.mark) out[k++] = "\x03";
      while (k < row) out[k++] = config.pad_value;
    }
  });
}

void infer_tokenizer(InferenceContext& context) { context.set_output_type(0, TypeInfo::tensor(DType::kString)); }

const RegisterOp kTokenizer{{.domain = kMicrosoftDomain,
                             .op_type = "Tokenizer",
                             .since_version = 1,
                             .last_version = INT_MAX,
                             .factory = make_tokenizer,
                             .infer = infer_tokenizer}};

}  // namespace
}  // namespace tessera
