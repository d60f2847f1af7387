// Feeds for a model from the command line, shared by the commands that run models (run, compare).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cli_common.h"
#include "runtime/session.h"

namespace tessera::cli {

// The feeds `arguments` give for `session`'s inputs: --input-dir DIR (input_K.pb for the K-th input without an
// initializer), --input NAME=FILE (.npy or .pb, repeatable), and with --random-inputs seeded random values
// (floats in [-1, 1), integers in [0, 4) but ones for inputs named "...mask...", symbolic dims 1) for the inputs
// still missing. Throws kInvalidArgument for an unknown input name, kIo for a missing file, UsageError for a
// malformed --input.
std::vector<std::pair<std::string, RuntimeValue>> gather_feeds(const Session& session, const Arguments& arguments);
// The same for a model's declared `inputs`, of which those named in `defaulted` have initializers; random values
// fill the missing inputs when `randomize_missing`.
std::vector<std::pair<std::string, RuntimeValue>> gather_feeds(const std::vector<IoInfo>& inputs,
                                                               const std::vector<std::string>& defaulted,
                                                               const Arguments& arguments, bool randomize_missing);

// The samples of a data folder (calibration and validation sets): each subfolder of `dir`, in name order, or `dir`
// itself when it has none, is one sample holding, for every input without an initializer, NAME.npy, NAME.pb or
// input_K.pb (the K-th such input, as in ONNX test data). Throws kIo naming the folder and the input when a file is
// missing, and for a folder with no samples.
std::vector<std::vector<std::pair<std::string, RuntimeValue>>> read_sample_folders(
    const std::string& dir, const std::vector<IoInfo>& inputs, const std::vector<std::string>& defaulted);

}  // namespace tessera::cli
