// TempDir implementation.
#include "tests/support/temp_dir.h"

#include <stdlib.h>

#include <filesystem>

#include "base/check.h"

namespace sluice::test {

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sluice-test.XXXXXX";
  SLUICE_CHECK(mkdtemp(tmpl.data()) != nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace sluice::test
