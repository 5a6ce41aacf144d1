#include <gtest/gtest.h>

#include <fstream>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/core/runtime.h"

using namespace deepl;
using deepl::testing::TempDir;

TEST(Files, AtomicWriteReplacesWholeFileAndLeavesNoTemp) {
  TempDir dir;
  const auto path = dir / "sub/file.txt";
  write_file_atomic(path, "first version");
  write_file_atomic(path, "second");
  EXPECT_EQ(read_file(path), "second");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path.parent_path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(Files, ReadMissingFileNamesIt) {
  const std::string msg = deepl::testing::error_message([] { read_file("/nonexistent/deepl/file"); });
  EXPECT_NE(msg.find("/nonexistent/deepl/file"), std::string::npos);
}

TEST(JsonUtil, ClosestMatchSuggestsNearbyKeysOnly) {
  EXPECT_EQ(closest_match("lrr", {"lr", "momentum", "eps"}), "lr");
  EXPECT_EQ(closest_match("epochz", {"epochs", "grad_clip"}), "epochs");
  EXPECT_EQ(closest_match("banana", {"lr", "eps"}), "");
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(JsonUtil, SyntaxErrorsGiveLineAndColumn) {
  TempDir dir;
  write_file_atomic(dir / "bad.json", "{\n  \"a\": 1,\n  \"b\": ]\n}\n");
  const std::string msg = deepl::testing::error_message([&] { read_json_file(dir / "bad.json"); });
  EXPECT_NE(msg.find("bad.json: line 3"), std::string::npos) << msg;
}

TEST(JsonUtil, NumberOverflowIsAUsageErrorNotACrash) {  // found by fuzz_config
  TempDir dir;
  write_file_atomic(dir / "huge.json", R"({"name": 221e30822})");
  const std::string msg = deepl::testing::error_message([&] { read_json_file(dir / "huge.json"); });
  EXPECT_NE(msg.find("huge.json: invalid JSON: number overflow"), std::string::npos) << msg;
}

TEST(Runtime, ThreadsAreSetExplicitly) {
  EXPECT_EQ(configure_threads(1), 1);
  EXPECT_GE(configure_threads(0), 1);
}

TEST(Runtime, GitCommitIsTheCommitTheLibraryWasBuiltAt) {
  // Read at every build, not at configure time: a build folder configured at an older commit and
  // rebuilt still names the commit it was built from. Outside a git checkout it is "unknown".
  const auto head = deepl::testing::run_command("git -C " DEEPL_SOURCE_DIR " rev-parse --short=12 HEAD");
  if (head.code != 0) {
    EXPECT_EQ(git_commit(), "unknown");
    return;
  }
  EXPECT_EQ(git_commit() + "\n", head.output) << "the tests run a library built at another commit: rebuild";
}

TEST(Runtime, DerivedSeedsDifferPerStreamAndRepeat) {
  EXPECT_EQ(derive_seed(7, 3), derive_seed(7, 3));
  EXPECT_NE(derive_seed(7, 3), derive_seed(7, 4));
  EXPECT_NE(derive_seed(7, 3), derive_seed(8, 3));
}
