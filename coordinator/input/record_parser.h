// Turning one simdjson on-demand object into a user record, with a precise reason when the
// record is bad. Shared by the JSONL and JSON-array paths of the loader. Where the record keeps
// each field is a RecordFields (--id-field, --name-field, --url-field), dotted paths into it.
//
// The string views in RawUser point into the parser's string buffer: valid only until the
// parser moves to the next document. Stateless; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "coordinator/input/record_fields.h"
#include "coordinator/input/user_id.h"

namespace pixelmill {

struct RawUser {
  UserId id;
  std::string_view name;
  std::string_view image_url;
};

// Why a record was refused. kRecord: the JSON is well formed but the record is wrong (skippable;
// parsing continues with the next record). kSyntax: the JSON itself is broken there.
struct RecordProblem {
  enum Kind { kNone, kRecord, kSyntax };
  Kind kind = kNone;
  std::string field;    // empty when the problem is not about one field
  std::string message;  // what was wrong, for a human
};

// RecordFields split into keys, for the parser. REQUIRES: RecordFieldsProblem(fields) is "".
class FieldPaths {
 public:
  enum Field { kId, kName, kUrl, kFields };

  explicit FieldPaths(const RecordFields& fields = {});

  // The keys to `field`'s value, outermost first; empty for a field the records do not have.
  const std::vector<std::string>& keys(Field field) const { return keys_[field]; }
  // Its path as given, for messages.
  const std::string& shown(Field field) const { return shown_[field]; }

 private:
  std::array<std::vector<std::string>, kFields> keys_;
  std::array<std::string, kFields> shown_;
};

// Reads id, name and image_url from `object` where `paths` say, consuming all of it (unknown
// fields are skipped). Returns false and fills `problem` on the first problem.
bool ParseUserObject(simdjson::ondemand::object object, const FieldPaths& paths, RawUser& user,
                     RecordProblem& problem);

// Reads a whole document that must be exactly one user object.
bool ParseUserDocument(simdjson::ondemand::document_reference doc, const FieldPaths& paths,
                       RawUser& user, RecordProblem& problem);

// A user-facing description of a simdjson syntax error.
std::string DescribeJsonError(simdjson::error_code error);

// "a string", "an array", "null", ... for messages.
std::string_view JsonTypeName(simdjson::ondemand::json_type type);

}  // namespace pixelmill
