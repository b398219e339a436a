// RecordFields: where an input record keeps each user field (--id-field, --name-field,
// --url-field), as a key or a dotted path of keys into nested objects; a CSV header's column
// names. The JSON parser (record_parser.h) and the CSV reader (csv_reader.h) follow it.
//
// A value; any thread.
#pragma once

#include <cstddef>
#include <string>

namespace pixelmill {

// Where a record keeps the user's fields: a key, or a dotted path of keys into nested objects
// ("profile.avatar.url"). A key holding a dot cannot be named.
struct RecordFields {
  std::string id = "id";
  std::string name = "name";  // "": records have no name (each user's is empty)
  std::string image_url = "image_url";

  // Field `f` in the order id, name, URL (FieldPaths::Field's), and the flag that names it.
  static constexpr const char* kFlags[] = {"--id-field", "--name-field", "--url-field"};
  const std::string& operator[](size_t f) const { return f == 0 ? id : f == 1 ? name : image_url; }

  bool operator==(const RecordFields&) const = default;
};

// Why `fields` cannot be used, for a message naming the option; "" when they can (non-empty
// keys without quotes or backslashes, no path the same as or inside another).
std::string RecordFieldsProblem(const RecordFields& fields);

}  // namespace pixelmill
