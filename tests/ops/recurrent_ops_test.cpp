// RNN, GRU and LSTM on the packed-GEMM time loop (ops/rnn/recurrent_engine.h) against a scalar reference written
// from the ONNX definitions (one batch row, one step at a time, in double): every cell option (GRU's
// linear_before_reset, LSTM's peepholes and input_forget, clip, activations other than the defaults), every direction,
// both layouts, sequence_lens with rows of different and zero length, weights given as constants (packed at kernel
// creation) or at run time, on one thread and on two, and a sequence long enough to take X W^T in several blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "ops/nn_test_util.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

enum class Cell { kRnn, kGru, kLstm };

int gates_of(Cell cell) { return cell == Cell::kRnn ? 1 : (cell == Cell::kGru ? 3 : 4); }
const char* op_of(Cell cell) { return cell == Cell::kRnn ? "RNN" : (cell == Cell::kGru ? "GRU" : "LSTM"); }

struct Case {
  Cell cell = Cell::kLstm;
  std::string direction = "forward";
  int64_t layout = 0;
  int64_t seq = 5, batch = 3, input = 7, hidden = 9;
  std::vector<int64_t> lengths;  // empty: no sequence_lens
  float clip = 0;
  bool linear_before_reset = false;
  bool input_forget = false;
  bool peepholes = false;
  std::vector<std::string> activations;  // per direction set; empty: the defaults
  std::vector<float> alphas, betas;
};

double activate(const std::string& name, double alpha, double beta, double x) {
  if (name == "Sigmoid") return 1.0 / (1.0 + std::exp(-x));
  if (name == "Tanh") return std::tanh(x);
  if (name == "Relu") return std::max(0.0, x);
  if (name == "HardSigmoid") return std::clamp(alpha * x + beta, 0.0, 1.0);
  if (name == "LeakyRelu") return x >= 0 ? x : alpha * x;
  if (name == "Softsign") return x / (1.0 + std::fabs(x));
  if (name == "ScaledTanh") return alpha * std::tanh(beta * x);
  ADD_FAILURE() << "reference has no " << name;
  return 0;
}

// The expected Y [seq, dirs, batch, hidden] (layout 0), Y_h and Y_c [dirs, batch, hidden], from inputs in layout 0.
struct Expected {
  std::vector<double> y, y_h, y_c;
};

Expected reference(const Case& c, const Tensor& x, const Tensor& w, const Tensor& r, const Tensor& b, const Tensor& h0,
                   const Tensor& c0, const Tensor& p) {
  const int64_t dirs = c.direction == "bidirectional" ? 2 : 1, g = gates_of(c.cell), hs = c.hidden;
  const std::vector<double> xv = values_of(x), wv = values_of(w), rv = values_of(r), bv = values_of(b);
  const std::vector<double> pv = p.defined() ? values_of(p) : std::vector<double>(dirs * 3 * hs, 0.0);
  std::vector<std::string> names = c.activations;
  if (names.empty()) {
    for (int64_t d = 0; d < dirs; ++d) {
      if (c.cell == Cell::kRnn) names.insert(names.end(), {"Tanh"});
      if (c.cell == Cell::kGru) names.insert(names.end(), {"Sigmoid", "Tanh"});
      if (c.cell == Cell::kLstm) names.insert(names.end(), {"Sigmoid", "Tanh", "Tanh"});
    }
  }
  const size_t per_dir = names.size() / dirs;
  // activation_alpha / activation_beta are consumed in order by the functions that take one.
  std::vector<double> alpha(names.size(), 0), beta(names.size(), 0);
  for (size_t k = 0, next_alpha = 0, next_beta = 0; k < names.size(); ++k) {
    const std::string& n = names[k];
    if ((n == "HardSigmoid" || n == "LeakyRelu" || n == "ScaledTanh") && next_alpha < c.alphas.size()) {
      alpha[k] = c.alphas[next_alpha++];
    }
    if ((n == "HardSigmoid" || n == "ScaledTanh") && next_beta < c.betas.size()) beta[k] = c.betas[next_beta++];
  }
  const auto clip = [&](double v) { return c.clip > 0 ? std::clamp(v, -double(c.clip), double(c.clip)) : v; };
  Expected e;
  e.y.assign(c.seq * dirs * c.batch * hs, 0.0);
  e.y_h = values_of(h0);
  e.y_c = values_of(c0);
  for (int64_t d = 0; d < dirs; ++d) {
    const bool reverse = c.direction == "reverse" || d == 1;
    const auto f = [&](size_t i, double v) {
      const size_t k = d * per_dir + i;
      return activate(names[k], alpha[k], beta[k], clip(v));
    };
    for (int64_t n = 0; n < c.batch; ++n) {
      double* h = &e.y_h[(d * c.batch + n) * hs];
      double* cs = &e.y_c[(d * c.batch + n) * hs];
      const int64_t len = c.lengths.empty() ? c.seq : c.lengths[n];
      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = reverse ? len - 1 - s : s;
        // xw[j] = X W^T + Wb, hr[j] = H R^T + Rb for every gate row j.
        std::vector<double> xw(g * hs), hr(g * hs);
        for (int64_t j = 0; j < g * hs; ++j) {
          double a = bv[d * 2 * g * hs + j], q = bv[d * 2 * g * hs + g * hs + j];
          for (int64_t k = 0; k < c.input; ++k)
            a += xv[(t * c.batch + n) * c.input + k] * wv[(d * g * hs + j) * c.input + k];
          for (int64_t k = 0; k < hs; ++k) q += h[k] * rv[(d * g * hs + j) * hs + k];
          xw[j] = a;
          hr[j] = q;
        }
        std::vector<double> next(hs);
        if (c.cell == Cell::kRnn) {
          for (int64_t j = 0; j < hs; ++j) next[j] = f(0, xw[j] + hr[j]);
        } else if (c.cell == Cell::kGru) {
          std::vector<double> z(hs), rg(hs);
          for (int64_t j = 0; j < hs; ++j) {
            z[j] = f(0, xw[j] + hr[j]);
            rg[j] = f(0, xw[hs + j] + hr[hs + j]);
          }
          for (int64_t j = 0; j < hs; ++j) {
            double rec;
            if (c.linear_before_reset) {
              rec = rg[j] * hr[2 * hs + j];
            } else {
              rec = bv[d * 2 * g * hs + g * hs + 2 * hs + j];
              for (int64_t k = 0; k < hs; ++k) rec += rg[k] * h[k] * rv[(d * g * hs + 2 * hs + j) * hs + k];
            }
            next[j] = (1 - z[j]) * f(1, xw[2 * hs + j] + rec) + z[j] * h[j];
          }
        } else {
          const double* pp = &pv[d * 3 * hs];
          for (int64_t j = 0; j < hs; ++j) {
            const auto pre = [&](int gate) { return xw[gate * hs + j] + hr[gate * hs + j]; };
            const double i_gate = f(0, pre(0) + pp[j] * cs[j]);
            const double f_gate = c.input_forget ? 1 - i_gate : f(0, pre(2) + pp[2 * hs + j] * cs[j]);
            const double cell = f_gate * cs[j] + i_gate * f(1, pre(3));
            const double o_gate = f(0, pre(1) + pp[hs + j] * cell);
            cs[j] = cell;
            next[j] = o_gate * f(2, cell);
          }
        }
        std::copy(next.begin(), next.end(), h);
        std::copy(next.begin(), next.end(), &e.y[((t * dirs + d) * c.batch + n) * hs]);
      }
    }
  }
  return e;
}

// [a, b, c] in layout 0 as [b, a, c] (X and Y's leading axes; the states' [dirs, batch] likewise).
Tensor swap_leading(const Tensor& t) {
  std::vector<int64_t> shape = t.shape();
  std::swap(shape[0], shape[1]);
  Tensor out(DType::kFloat, shape);
  const int64_t inner = t.element_count() / (t.dim(0) * t.dim(1));
  for (int64_t i = 0; i < t.dim(0); ++i)
    for (int64_t j = 0; j < t.dim(1); ++j)
      std::copy_n(t.data<float>() + (i * t.dim(1) + j) * inner, inner, out.data<float>() + (j * t.dim(0) + i) * inner);
  return out;
}

// Y [seq, dirs, batch, hidden] as layout 1's [batch, seq, dirs, hidden].
std::vector<double> y_batch_major(const std::vector<double>& y, int64_t seq, int64_t dirs, int64_t batch, int64_t hs) {
  std::vector<double> out(y.size());
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t d = 0; d < dirs; ++d)
      for (int64_t n = 0; n < batch; ++n)
        std::copy_n(&y[((t * dirs + d) * batch + n) * hs], hs, &out[((n * seq + t) * dirs + d) * hs]);
  return out;
}

std::vector<double> to_doubles(const Tensor& t) { return values_of(t); }

// Runs case `c` with its weights constant or not, on `parallelism` (nullptr: one thread), and compares all outputs.
void check(const Case& c, bool constant_weights, Parallelism* parallelism, uint32_t seed) {
  SCOPED_TRACE(std::string(op_of(c.cell)) + " " + c.direction + " layout " + std::to_string(c.layout) +
               (constant_weights ? " constant weights" : " run-time weights") +
               (parallelism ? " two threads" : " one thread"));
  const int64_t dirs = c.direction == "bidirectional" ? 2 : 1, g = gates_of(c.cell), hs = c.hidden;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const Tensor x = random_float({c.seq, c.batch, c.input}, seed, -1.5f, 1.5f);
  const Tensor w = random_float({dirs, g * hs, c.input}, seed + 1, -scale, scale);
  const Tensor r = random_float({dirs, g * hs, hs}, seed + 2, -scale, scale);
  const Tensor b = random_float({dirs, 2 * g * hs}, seed + 3, -0.5f, 0.5f);
  const Tensor h0 = random_float({dirs, c.batch, hs}, seed + 4, -0.8f, 0.8f);
  const Tensor c0 = random_float({dirs, c.batch, hs}, seed + 5, -0.8f, 0.8f);
  const Tensor p = c.peepholes ? random_float({dirs, 3 * hs}, seed + 6, -0.5f, 0.5f) : Tensor();
  const Expected want = reference(c, x, w, r, b, h0, c0, p);

  std::vector<Attribute> attrs{int_attr("hidden_size", hs), string_attr("direction", c.direction),
                               int_attr("layout", c.layout)};
  if (c.clip > 0) attrs.push_back(float_attr("clip", c.clip));
  if (c.cell == Cell::kGru) attrs.push_back(int_attr("linear_before_reset", c.linear_before_reset ? 1 : 0));
  if (c.cell == Cell::kLstm) attrs.push_back(int_attr("input_forget", c.input_forget ? 1 : 0));
  if (!c.activations.empty()) attrs.push_back(strings_attr("activations", c.activations));
  if (!c.alphas.empty()) attrs.push_back(floats_attr("activation_alpha", c.alphas));
  if (!c.betas.empty()) attrs.push_back(floats_attr("activation_beta", c.betas));
  Tensor lengths;
  if (!c.lengths.empty()) {
    lengths = Tensor(DType::kInt32, {c.batch});
    for (int64_t n = 0; n < c.batch; ++n) lengths.data<int32_t>()[n] = static_cast<int32_t>(c.lengths[n]);
  }
  const bool batch_major = c.layout == 1;
  std::vector<Tensor> inputs{batch_major ? swap_leading(x) : x, w, r, b, lengths, batch_major ? swap_leading(h0) : h0};
  if (c.cell == Cell::kLstm) {
    inputs.push_back(batch_major ? swap_leading(c0) : c0);
    inputs.push_back(p);
  }
  const size_t outputs = c.cell == Cell::kLstm ? 3 : 2;
  const std::vector<Tensor> got =
      run_op(op_of(c.cell), 14, attrs, inputs, outputs, parallelism, "",
             constant_weights ? std::vector<bool>{false, true, true, true} : std::vector<bool>{});
  const std::vector<int64_t> y_shape =
      batch_major ? std::vector<int64_t>{c.batch, c.seq, dirs, hs} : std::vector<int64_t>{c.seq, dirs, c.batch, hs};
  const std::vector<int64_t> state_shape =
      batch_major ? std::vector<int64_t>{c.batch, dirs, hs} : std::vector<int64_t>{dirs, c.batch, hs};
  const auto state = [&](const std::vector<double>& s) {
    if (!batch_major) return s;
    Tensor t(DType::kFloat, {dirs, c.batch, hs});
    for (size_t i = 0; i < s.size(); ++i) t.data<float>()[i] = static_cast<float>(s[i]);
    return to_doubles(swap_leading(t));
  };
  expect_close(got[0], batch_major ? y_batch_major(want.y, c.seq, dirs, c.batch, hs) : want.y, y_shape, 1e-4, 2e-5);
  expect_close(got[1], state(want.y_h), state_shape, 1e-4, 2e-5);
  if (c.cell == Cell::kLstm) expect_close(got[2], state(want.y_c), state_shape, 1e-4, 2e-5);
}

// Every case on both weight paths, one thread and two.
void check_everywhere(const Case& c, uint32_t seed) {
  ThreadPool pool(2);
  for (bool constant : {false, true}) {
    check(c, constant, nullptr, seed);
    check(c, constant, &pool, seed);
  }
}

TEST(RecurrentOpsTest, EveryCellAndDirectionMatchesTheReference) {
  uint32_t seed = 10;
  for (Cell cell : {Cell::kRnn, Cell::kGru, Cell::kLstm}) {
    for (const char* direction : {"forward", "reverse", "bidirectional"}) {
      Case c;
      c.cell = cell;
      c.direction = direction;
      check_everywhere(c, seed += 10);
    }
  }
}

TEST(RecurrentOpsTest, CellOptionsMatchTheReference) {
  Case gru;
  gru.cell = Cell::kGru;
  gru.direction = "bidirectional";
  gru.linear_before_reset = true;
  gru.hidden = 130;  // R in three pieces of hidden units, Rbh in each
  check_everywhere(gru, 100);
  gru.clip = 0.7f;
  check_everywhere(gru, 110);

  Case lstm;
  lstm.peepholes = true;
  lstm.direction = "bidirectional";
  check_everywhere(lstm, 120);
  lstm.input_forget = true;
  lstm.clip = 0.5f;
  check_everywhere(lstm, 130);

  // Activations other than the defaults, with their alphas and betas (one set per direction).
  Case custom;
  custom.cell = Cell::kGru;
  custom.direction = "bidirectional";
  custom.activations = {"HardSigmoid", "Softsign", "Sigmoid", "ScaledTanh"};
  custom.alphas = {0.3f, 1.5f};
  custom.betas = {0.4f, 0.8f};
  check_everywhere(custom, 140);
  Case rnn;
  rnn.cell = Cell::kRnn;
  rnn.activations = {"LeakyRelu"};
  rnn.alphas = {0.2f};
  rnn.hidden = 70;
  check_everywhere(rnn, 150);
}

TEST(RecurrentOpsTest, SequenceLengthsAndBatchMajorLayoutMatchTheReference) {
  uint32_t seed = 200;
  for (Cell cell : {Cell::kRnn, Cell::kGru, Cell::kLstm}) {
    for (const char* direction : {"forward", "reverse", "bidirectional"}) {
      for (int64_t layout : {0, 1}) {
        Case c;
        c.cell = cell;
        c.direction = direction;
        c.layout = layout;
        c.batch = 4;
        c.lengths = {5, 2, 0, 4};  // a full row, shorter ones and an empty one
        check_everywhere(c, seed += 10);
      }
    }
  }
}

TEST(RecurrentOpsTest, WideBatchesSplitTheRowsOrTheGatesAndLongSequencesTakeXwInBlocks) {
  // 40 rows (LSTM), 20 (GRU) and 9 with unequal lengths (uneven halves): each thread runs its own rows through the
  // steps.
  Case wide;
  wide.batch = 40;
  wide.seq = 3;
  wide.input = 20;
  wide.hidden = 100;
  check_everywhere(wide, 300);
  wide.cell = Cell::kGru;
  wide.batch = 20;
  wide.hidden = 70;
  check_everywhere(wide, 305);
  Case uneven;
  uneven.cell = Cell::kGru;
  uneven.direction = "reverse";
  uneven.batch = 9;
  uneven.lengths = {5, 1, 4, 0, 5, 3, 5, 2, 5};
  check_everywhere(uneven, 306);
  uneven.cell = Cell::kLstm;
  uneven.direction = "forward";
  uneven.peepholes = true;
  check_everywhere(uneven, 307);
  // Too few rows to split (4 x 4 gates x 260 hidden units, 6 x 3 x 230): each step's product splits over the
  // threads, and the gate math in pieces of 64 units and the rest (the GRU's in its two phases, before and after
  // (r (.) h) R_h^T).
  Case narrow;
  narrow.batch = 4;
  narrow.seq = 3;
  narrow.input = 20;
  narrow.hidden = 260;
  check_everywhere(narrow, 308);
  narrow.cell = Cell::kGru;
  narrow.batch = 6;
  narrow.hidden = 230;
  check_everywhere(narrow, 309);
  // 1500 steps x 4 rows x 3 gates x 64: X W^T in two blocks of steps; with unequal lengths (gathered rows) too.
  Case long_sequence;
  long_sequence.cell = Cell::kGru;
  long_sequence.seq = 1500;
  long_sequence.batch = 4;
  long_sequence.input = 6;
  long_sequence.hidden = 64;
  long_sequence.direction = "reverse";
  check(long_sequence, true, nullptr, 310);
  long_sequence.lengths = {1500, 1400, 3, 1499};
  check(long_sequence, false, nullptr, 320);
}

TEST(RecurrentOpsTest, BadWeightShapesAreClearErrors) {
  const Tensor x = random_float({2, 1, 3}, 1), w = random_float({1, 8, 3}, 2), r = random_float({1, 8, 2}, 3);
  const std::vector<Attribute> attrs{int_attr("hidden_size", 2)};
  // LSTM with hidden 2 needs W [1, 8, 3] and R [1, 8, 2]; an R of the wrong size at run time, then as a constant.
  const Tensor bad_r = random_float({1, 8, 3}, 4);
  EXPECT_EQ(error_code_of([&] { run_op("LSTM", 14, attrs, {x, w, bad_r}, 3); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] {
              run_op("LSTM", 14, attrs, {x, w, bad_r}, 3, nullptr, "", {false, true, true});
            }),
            ErrorCode::kInvalidModel);
  // X with 4 features where the constant W was packed for 3.
  EXPECT_EQ(error_code_of([&] {
              run_op("LSTM", 14, attrs, {random_float({2, 1, 4}, 5), w, r}, 3, nullptr, "", {false, true, true});
            }),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
