// Reading test fixtures by their path in the source tree.
#ifndef CONVGEN_TESTS_TESTING_FILES_H_
#define CONVGEN_TESTS_TESTING_FILES_H_

#include <fstream>
#include <sstream>
#include <string>

namespace convgen::testing {

// Returns the contents of `relative_path` under the source tree, or "" if it
// cannot be read (the test's assertions then fail on the empty text).
inline std::string ReadSourceFile(const std::string& relative_path) {
  std::ifstream in(std::string(CONVGEN_SOURCE_DIR) + "/" + relative_path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace convgen::testing

#endif  // CONVGEN_TESTS_TESTING_FILES_H_
