// JsonTreeBuilder: the part of a SAX handler that builds the document tree:
// each value is stored where the parser is (the root, the end of the open
// array, or the open object's pending key). Shared by the strict config
// reader and the tokenizer.json reader, which differ only in what they check
// and what they stream elsewhere. It holds pointers only to open containers,
// each the last member of its parent, so they stay valid. Not thread-safe.
#ifndef CONVGEN_CORE_JSON_TREE_BUILDER_H_
#define CONVGEN_CORE_JSON_TREE_BUILDER_H_

#include <string>
#include <utility>
#include <vector>

namespace convgen {

// J is nlohmann::json or nlohmann::ordered_json; `root` must outlive the
// builder.
template <class J>
class JsonTreeBuilder {
 public:
  explicit JsonTreeBuilder(J& root) : root_(root) {}

  // Stores `value` where the parser is; returns a pointer to it.
  J* Store(J value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    J& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    J& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }
  // Stores an empty object or array and makes it the open container.
  void Open(J empty) { open_.push_back(Store(std::move(empty))); }
  void Close() { open_.pop_back(); }
  // The key the next value of the open object goes to.
  void SetKey(std::string key) { key_ = std::move(key); }

  // The open container (nullptr at the top level), its pending key, and how
  // many containers are open.
  const J* open() const { return open_.empty() ? nullptr : open_.back(); }
  const std::string& key() const { return key_; }
  size_t depth() const { return open_.size(); }

 private:
  J& root_;
  std::vector<J*> open_;
  std::string key_;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_JSON_TREE_BUILDER_H_
