#include "directory/strict_json.h"

#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ferry {
namespace {

using nlohmann::json;

// Builds the document from nlohmann's SAX events, and stops the parse at the
// first array or object past the depth limit or the first repeated key.
class StrictBuilder {
 public:
  explicit StrictBuilder(int max_depth) : max_depth_(max_depth) {}

  bool null() { return Put(nullptr); }
  bool boolean(bool value) { return Put(value); }
  bool number_integer(json::number_integer_t value) { return Put(value); }
  bool number_unsigned(json::number_unsigned_t value) { return Put(value); }
  bool number_float(json::number_float_t value, const std::string& /*text*/) { return Put(value); }
  bool string(json::string_t& value) { return Put(std::move(value)); }
  bool binary(json::binary_t& value) { return Put(std::move(value)); }
  bool start_object(std::size_t /*elements*/) { return Open(json::object()); }
  bool start_array(std::size_t /*elements*/) { return Open(json::array()); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(json::string_t& name) {
    json& object = *open_.back();
    if (object.contains(name)) {
      error_ = fmt::format("the key '{}' appears twice in one object", name.substr(0, 64));
      return false;
    }
    slot_ = &object[name];
    return true;
  }
  // The token read may be long or invalid UTF-8, so only its place is told.
  bool parse_error(std::size_t position, const std::string& /*token*/,
                   const json::exception& /*error*/) {
    error_ = fmt::format("the body is not valid JSON (at byte {})", position);
    return false;
  }

  json& root() { return root_; }
  const std::string& error() const { return error_; }

 private:
  // Places `value` where the next value goes and returns where it is.
  json* Place(json&& value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    *slot_ = std::move(value);
    return slot_;
  }
  bool Put(json&& value) {
    Place(std::move(value));
    return true;
  }
  bool Open(json&& container) {
    if (open_.size() >= static_cast<size_t>(max_depth_)) {
      error_ = fmt::format("the JSON nests deeper than {} levels", max_depth_);
      return false;
    }
    // Only the last element of an array or the newest value of an object is
    // ever open, so these pointers stay valid while they are on the stack.
    open_.push_back(Place(std::move(container)));
    return true;
  }
  bool Close() {
    open_.pop_back();
    return true;
  }

  const int max_depth_;
  json root_;
  std::vector<json*> open_;  // the arrays and objects not yet closed, outermost first
  json* slot_ = nullptr;     // the value of the key just read
  std::string error_;
};

}  // namespace

Result<json> ParseStrictJson(std::string_view text, int max_depth) {
  StrictBuilder builder(max_depth);
  bool ok = json::sax_parse(text, &builder, json::input_format_t::json, /*strict=*/true,
                            /*ignore_comments=*/false);
  if (!ok) {
    return Status::InvalidArgument(builder.error());
  }
  return std::move(builder.root());
}

}  // namespace ferry
