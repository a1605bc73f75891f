// Finding tokenizers by name: the Hugging Face hub cache, laid out as
// huggingface_hub writes it (blobs, snapshot symlinks, refs), and a
// --tokenizer-dir.
#include "core/tokenizer/tokenizer_locator.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace convgen {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kMain[] = "0123456789abcdef0123456789abcdef01234567";
constexpr char kOld[] = "fedcba9876543210fedcba9876543210fedcba98";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "convgen-locator-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// models--ORG--NAME as huggingface_hub leaves it: the files in blobs/ under
// their hash, each snapshot's tokenizer.json a relative symlink to its blob,
// refs/main holding the commit (no newline), refs/v1 an older commit.
void AddModel(const std::string& cache, const std::string& folder) {
  const fs::path repo = fs::path(cache) / folder;
  Write(repo / "blobs" / "aaaa", "main tokenizer");
  Write(repo / "blobs" / "bbbb", "old tokenizer");
  for (const auto& [commit, blob] : {std::pair{kMain, "aaaa"}, std::pair{kOld, "bbbb"}}) {
    fs::create_directories(repo / "snapshots" / commit);
    fs::create_symlink(fs::path("../../blobs") / blob,
                       repo / "snapshots" / commit / "tokenizer.json");
  }
  Write(repo / "refs" / "main", kMain);
  Write(repo / "refs" / "v1", std::string(kOld) + "\n");
}

TEST(HfHubCacheDirTest, FollowsHuggingFaceHubsOrder) {
  HfCacheEnvironment env;
  env.home = "/home/u";
  EXPECT_EQ(HfHubCacheDir(env).path, "/home/u/.cache/huggingface/hub");
  EXPECT_EQ(HfHubCacheDir(env).source, "default");
  env.xdg_cache_home = "/xdg";
  EXPECT_EQ(HfHubCacheDir(env).path, "/xdg/huggingface/hub");
  env.hf_home = "~/hf";
  EXPECT_EQ(HfHubCacheDir(env).path, "/home/u/hf/hub");
  EXPECT_EQ(HfHubCacheDir(env).source, "HF_HOME");
  env.huggingface_hub_cache = "/legacy";
  EXPECT_EQ(HfHubCacheDir(env).path, "/legacy");
  env.hf_hub_cache = "/hub";
  EXPECT_EQ(HfHubCacheDir(env).path, "/hub");
  EXPECT_EQ(HfHubCacheDir(env).source, "HF_HUB_CACHE");
}

TEST(LooksLikeHfModelIdTest, AcceptsIdsAndRefusesPaths) {
  for (const char* id : {"Qwen/Qwen3-8B", "gpt2", "meta-llama/Llama-3.1-8B@main",
                         "org/m_1.5@0123abc", "org/m@refs/pr/1"}) {
    EXPECT_TRUE(LooksLikeHfModelId(id)) << id;
  }
  for (const char* id : {"", "../x", "/abs/path", "a/b/c", "a/../b", "org/m@../../etc",
                         "org/m@/abs", ".hidden/x", "org/m@", "a b/c", "org--x/m"}) {
    EXPECT_FALSE(LooksLikeHfModelId(id)) << id;
  }
}

TEST(FindInHfCacheTest, RefsMainLeadsToTheSnapshotsFileThroughItsBlobSymlink) {
  TempDir cache;
  AddModel(cache.path(), "models--Qwen--Qwen3-8B");
  auto path = FindInHfCache(cache.path(), "Qwen/Qwen3-8B");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, cache.path() + "/models--Qwen--Qwen3-8B/snapshots/" + kMain + "/tokenizer.json");
  EXPECT_EQ(Read(*path), "main tokenizer");
}

TEST(FindInHfCacheTest, ARevisionIsARefOrACommit) {
  TempDir cache;
  AddModel(cache.path(), "models--Qwen--Qwen3-8B");
  auto by_ref = FindInHfCache(cache.path(), "Qwen/Qwen3-8B@v1");
  ASSERT_TRUE(by_ref.ok()) << by_ref.status();
  EXPECT_EQ(Read(*by_ref), "old tokenizer");
  auto by_commit = FindInHfCache(cache.path(), std::string("Qwen/Qwen3-8B@") + kOld);
  ASSERT_TRUE(by_commit.ok()) << by_commit.status();
  EXPECT_EQ(Read(*by_commit), "old tokenizer");
  auto main = FindInHfCache(cache.path(), "Qwen/Qwen3-8B@main");
  ASSERT_TRUE(main.ok()) << main.status();
  EXPECT_EQ(Read(*main), "main tokenizer");
  // A model id without an organisation (gpt2) is models--gpt2.
  AddModel(cache.path(), "models--gpt2");
  EXPECT_TRUE(FindInHfCache(cache.path(), "gpt2").ok());
}

TEST(FindInHfCacheTest, AMissingIdSaysWhereItLooked) {
  TempDir cache;
  AddModel(cache.path(), "models--Qwen--Qwen3-8B");
  auto missing = FindInHfCache(cache.path(), "Qwen/Qwen3-32B");
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("not in the Hugging Face cache (no " +
                                                    cache.path() + "/models--Qwen--Qwen3-32B)"));
  EXPECT_THAT(missing.status().message(), HasSubstr("never downloads"));
  EXPECT_THAT(missing.status().message(), HasSubstr("hf download Qwen/Qwen3-32B tokenizer.json"));

  auto no_revision = FindInHfCache(cache.path(), "Qwen/Qwen3-8B@v2");
  ASSERT_EQ(no_revision.status().code(), absl::StatusCode::kNotFound);
  const std::string repo = cache.path() + "/models--Qwen--Qwen3-8B";
  EXPECT_THAT(no_revision.status().message(),
              HasSubstr("(tried " + repo + "/refs/v2, " + repo + "/snapshots/v2/tokenizer.json)"));

  // A snapshot without a tokenizer.json (only the weights were fetched).
  fs::remove(fs::path(cache.path()) / "models--Qwen--Qwen3-8B/snapshots" / kMain /
             "tokenizer.json");
  auto no_file = FindInHfCache(cache.path(), "Qwen/Qwen3-8B");
  ASSERT_EQ(no_file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_file.status().message(), HasSubstr(std::string(kMain) + "/tokenizer.json"));

  auto no_cache = FindInHfCache(cache.path() + "/nowhere", "Qwen/Qwen3-8B");
  EXPECT_THAT(no_cache.status().message(),
              HasSubstr("the Hugging Face cache " + cache.path() + "/nowhere does not exist"));
  EXPECT_EQ(FindInHfCache(cache.path(), "../etc").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FindInHfCacheTest, AFileThatIsThereButUnusableIsNamedNotCalledMissing) {
  TempDir cache;
  AddModel(cache.path(), "models--a--ref");
  const fs::path ref_repo = fs::path(cache.path()) / "models--a--ref";
  Write(ref_repo / "refs" / "main", "../..");
  EXPECT_THAT(FindInHfCache(cache.path(), "a/ref").status().message(),
              HasSubstr(ref_repo.string() + "/refs/main holds \"../..\", not a commit hash"));

  AddModel(cache.path(), "models--a--fifo");
  const fs::path fifo =
      fs::path(cache.path()) / "models--a--fifo" / "snapshots" / kMain / "tokenizer.json";
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto on_fifo = FindInHfCache(cache.path(), "a/fifo");
  ASSERT_EQ(on_fifo.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(on_fifo.status().message(),
              HasSubstr("its cached file cannot be used: " + fifo.string() + ": is a FIFO"));

  AddModel(cache.path(), "models--a--blobless");
  fs::remove(fs::path(cache.path()) / "models--a--blobless" / "blobs" / "aaaa");
  EXPECT_THAT(FindInHfCache(cache.path(), "a/blobless").status().message(),
              HasSubstr("tokenizer.json: is a symbolic link to nothing (../../blobs/aaaa)"));

  const std::string file = cache.path() + "/a-file";
  Write(file, "x");
  EXPECT_THAT(FindInHfCache(file, "a/ref").status().message(),
              HasSubstr("the Hugging Face cache " + file + " is not a directory"));
}

TEST(ListTokenizerDirTest, NamesEachFileAfterItself) {
  TempDir dir;
  const fs::path d = dir.path();
  Write(d / "mine.json", "{}");
  Write(d / "cl100k_base.tiktoken", "x");
  Write(d / "llama3" / "tokenizer.json", "{}");
  Write(d / "Qwen" / "Qwen3-8B" / "tokenizer.json", "{}");
  Write(d / ".hidden.json", "{}");
  Write(d / "README.txt", "not a tokenizer");
  Write(d / "empty" / "nothing.txt", "");
  auto listed = ListTokenizerDir(dir.path());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, ::testing::ElementsAre(
                           Pair("Qwen/Qwen3-8B", dir.path() + "/Qwen/Qwen3-8B/tokenizer.json"),
                           Pair("cl100k_base", dir.path() + "/cl100k_base.tiktoken"),
                           Pair("llama3", dir.path() + "/llama3/tokenizer.json"),
                           Pair("mine", dir.path() + "/mine.json")));
}

TEST(ListTokenizerDirTest, ANameTwiceOrAMissingDirectoryIsRefused) {
  TempDir dir;
  Write(fs::path(dir.path()) / "llama3.json", "{}");
  Write(fs::path(dir.path()) / "llama3" / "tokenizer.json", "{}");
  auto clash = ListTokenizerDir(dir.path());
  ASSERT_EQ(clash.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(clash.status().message(), HasSubstr("\"llama3\" is both"));
  auto missing = ListTokenizerDir(dir.path() + "/nope");
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot read the directory"));
}

TEST(ListTokenizerDirTest, AnEntryNamedLikeATokenizerThatCannotBeReadIsRefused) {
  const auto refused = [](const std::function<void(const fs::path&)>& make) {
    TempDir dir;
    Write(fs::path(dir.path()) / "good.json", "{}");
    make(dir.path());
    auto listed = ListTokenizerDir(dir.path());
    return listed.ok() ? std::string("listed") : std::string(listed.status().message());
  };
  EXPECT_THAT(refused([](const fs::path& d) { ::mkfifo((d / "pipe.json").c_str(), 0600); }),
              HasSubstr("pipe.json: is a FIFO, not a regular file; remove it"));
  EXPECT_THAT(refused([](const fs::path& d) {
                fs::create_symlink(d / "nowhere", d / "dangling.tiktoken");
              }),
              HasSubstr("dangling.tiktoken: is a symbolic link to nothing"));
  EXPECT_THAT(
      refused([](const fs::path& d) { fs::create_symlink(d / "loop.json", d / "loop.json"); }),
      HasSubstr("loop.json: Too many levels of symbolic links"));
  EXPECT_THAT(refused([](const fs::path& d) {
                fs::create_directories(d / "org" / "model" / "tokenizer.json");
              }),
              HasSubstr("org/model/tokenizer.json: is a directory"));
  // Entries not named like a tokenizer are not its business.
  EXPECT_EQ(refused([](const fs::path& d) { ::mkfifo((d / "pipe.txt").c_str(), 0600); }), "listed");
}

}  // namespace
}  // namespace convgen
