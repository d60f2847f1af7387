// The `tessera` subcommands. Each takes the arguments after its name and returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace tessera::cli {

int run_command(const std::vector<std::string>& args);          // tessera run
int info_command(const std::vector<std::string>& args);         // tessera info
int conformance_command(const std::vector<std::string>& args);  // tessera conformance
int bench_command(const std::vector<std::string>& args);        // tessera bench
int optimize_command(const std::vector<std::string>& args);     // tessera optimize
int compare_command(const std::vector<std::string>& args);      // tessera compare
int check_command(const std::vector<std::string>& args);        // tessera check
int quantize_command(const std::vector<std::string>& args);      // tessera quantize
int convert_fp16_command(const std::vector<std::string>& args);  // tessera convert-fp16
int convert_opset_command(const std::vector<std::string>& args);  // tessera convert-opset
int serve_command(const std::vector<std::string>& args);        // tessera serve

}  // namespace tessera::cli
