#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

// A fresh process (ctest runs each test in one) would mmap a 16 MiB buffer and page-fault it in on
// every reuse; as the apps set malloc up, it comes from the heap. Sanitizers bring their own malloc.
TEST(Runtime, FreedBuffersUpTo32MiBStayInTheHeapForReuse) {
#if defined(DEEPL_SANITIZED) || !defined(__GLIBC__)
  GTEST_SKIP() << "not glibc's malloc";
#else
  ASSERT_TRUE(keep_freed_memory_for_reuse());
  const auto mmapped_chunks = mallinfo2().hblks;
  auto* buffer = static_cast<volatile char*>(std::malloc(16 << 20));
  ASSERT_NE(buffer, nullptr);
  buffer[0] = 1;
  EXPECT_EQ(mallinfo2().hblks, mmapped_chunks) << "the buffer got its own mmap";
  std::free(const_cast<char*>(buffer));
#endif
}

TEST(Runtime, DerivedSeedsDifferPerStreamAndRepeat) {
  EXPECT_EQ(derive_seed(7, 3), derive_seed(7, 3));
  EXPECT_NE(derive_seed(7, 3), derive_seed(7, 4));
  EXPECT_NE(derive_seed(7, 3), derive_seed(8, 3));
}
