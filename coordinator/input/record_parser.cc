#include "coordinator/input/record_parser.h"

#include <algorithm>
#include <bit>
#include <utility>

namespace pixelmill {
namespace {

namespace od = simdjson::ondemand;

bool Syntax(RecordProblem& p, simdjson::error_code e, std::string field = {}) {
  p.kind = RecordProblem::kSyntax;
  p.field = std::move(field);
  p.message = DescribeJsonError(e);
  return false;
}

bool Bad(RecordProblem& p, std::string field, std::string message) {
  p.kind = RecordProblem::kRecord;
  p.field = std::move(field);
  p.message = std::move(message);
  return false;
}

// Errors that mean the value exists but has another type (the record is wrong, the JSON fine).
bool IsTypeError(simdjson::error_code e) {
  return e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_OUT_OF_RANGE;
}

bool ReadString(od::value& v, const char* field, std::string_view& out, RecordProblem& p);

// An id: an integer, or a string (StringIdProblem says which strings). Fast path first: the
// getters fail cheaply on a wrong type, and only then is the reason worked out for the message.
bool ReadId(od::value& v, const std::string& field, UserId& out, RecordProblem& p) {
  int64_t number = 0;
  const simdjson::error_code e = v.get_int64().get(number);
  if (e == simdjson::SUCCESS) {
    out = UserId(number);
    return true;
  }
  od::json_type type;
  if (auto te = v.type().get(type)) return Syntax(p, te, field);
  if (type == od::json_type::string) {
    std::string_view text;
    if (!ReadString(v, field.c_str(), text, p)) return false;
    if (std::string problem = StringIdProblem(text); !problem.empty()) {
      return Bad(p, field, std::move(problem));
    }
    out = UserId::String(text);
    return true;
  }
  if (type != od::json_type::number) {
    return Bad(p, field, "expected an integer or a string, got " + std::string(JsonTypeName(type)));
  }
  std::string_view token = v.raw_json_token();
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\r' ||
                            token.back() == '\n')) {
    token.remove_suffix(1);
  }
  if (token.find_first_of(".eE") != std::string_view::npos) {
    return Bad(p, field, "expected an integer or a string, got " + std::string(token));
  }
  if (IsTypeError(e)) {
    return Bad(p, field,
               "integer " + std::string(token) +
                   " out of range (must fit in a signed 64-bit integer; write a longer one as a "
                   "string)");
  }
  return Syntax(p, e, field);
}

bool ReadString(od::value& v, const char* field, std::string_view& out, RecordProblem& p) {
  const simdjson::error_code e = v.get_string().get(out);
  if (e == simdjson::SUCCESS) return true;
  if (e == simdjson::STRING_ERROR) return Bad(p, field, "invalid escape sequence in string");
  od::json_type type;
  if (auto te = v.type().get(type)) return Syntax(p, te, field);
  if (type != od::json_type::string) {
    return Bad(p, field, "expected a string, got " + std::string(JsonTypeName(type)));
  }
  return Syntax(p, e, field);
}

// An unknown field's name for a message (the key as written, escapes and all, cut short).
std::string KeyForMessage(od::raw_json_string key) {
  constexpr size_t kMaxShown = 64;
  const char* p = key.raw();
  std::string out;
  // Stage 1 has matched the key's quotes: its closing quote is there.
  for (size_t backslashes = 0; *p != '"' || backslashes % 2 == 1; ++p) {
    backslashes = *p == '\\' ? backslashes + 1 : 0;
    if (out.size() < kMaxShown) out += *p;
  }
  if (out.size() == kMaxShown) out += "...";
  return out;
}

// Unknown fields are ignored, but their values are still checked, nested ones too, so a record
// with broken JSON anywhere is refused as a whole (stage 1 only matched brackets and quotes:
// "[1,,2]", {"a" 1} and a "tru" would otherwise pass). Most records have no nested unknown
// values, so this costs nothing for them.
bool SkipValue(od::value& v, RecordProblem& p) {
  od::json_type type;
  if (auto e = v.type().get(type)) return Syntax(p, e);
  simdjson::error_code e = simdjson::SUCCESS;
  switch (type) {
    case od::json_type::boolean:
      e = v.get_bool().error();
      break;
    case od::json_type::null: {
      bool is_null = false;
      e = v.is_null().get(is_null);
      if (e == simdjson::SUCCESS && !is_null) e = simdjson::N_ATOM_ERROR;
      break;
    }
    case od::json_type::number:
      e = v.get_number().error();
      break;
    case od::json_type::string:
      e = v.get_string().error();
      break;
    case od::json_type::array: {
      od::array array;
      if ((e = v.get_array().get(array))) break;
      for (auto element : array) {
        od::value item;
        if ((e = std::move(element).get(item))) break;
        if (!SkipValue(item, p)) return false;
      }
      break;
    }
    case od::json_type::object: {
      od::object object;
      if ((e = v.get_object().get(object))) break;
      for (auto member : object) {
        od::field inner;
        if ((e = std::move(member).get(inner))) break;
        if (!SkipValue(inner.value(), p)) return false;
      }
      break;
    }
  }
  return e == simdjson::SUCCESS || Syntax(p, e);
}

// The fields of `object` at `depth` of the paths of the `active` fields (a bit each): a leaf
// is read, a key on the way to one is entered, anything else is checked and skipped. `seen`
// gets a bit for each field read.
bool Walk(od::object object, const FieldPaths& paths, size_t depth, unsigned active, RawUser& user,
          unsigned& seen, RecordProblem& p) {
  for (auto field_result : object) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return Syntax(p, e);
    const od::raw_json_string key = field.key();
    od::value& value = field.value();
    int leaf = -1;
    unsigned inner = 0;
    for (int f = 0; f < FieldPaths::kFields; ++f) {
      const std::vector<std::string>& keys = paths.keys(static_cast<FieldPaths::Field>(f));
      if ((active & (1u << f)) == 0 || key != keys[depth]) continue;
      if (keys.size() == depth + 1) {
        leaf = f;
      } else {
        inner |= 1u << f;
      }
    }
    if (leaf >= 0) {
      const auto f = static_cast<FieldPaths::Field>(leaf);
      const std::string& name = paths.shown(f);
      if (seen & (1u << f)) return Bad(p, name, "field appears twice in the record");
      seen |= 1u << f;
      const bool ok = f == FieldPaths::kId     ? ReadId(value, name, user.id, p)
                      : f == FieldPaths::kName ? ReadString(value, name.c_str(), user.name, p)
                                               : ReadString(value, name.c_str(), user.image_url, p);
      if (!ok) return false;
    } else if (inner != 0) {
      od::object nested;
      if (value.get_object().get(nested)) {
        od::json_type type;
        if (auto e = value.type().get(type)) return Syntax(p, e);
        const int f = std::countr_zero(inner);
        std::string path;
        for (size_t k = 0; k <= depth; ++k) {
          path += (k == 0 ? "" : ".") + paths.keys(static_cast<FieldPaths::Field>(f))[k];
        }
        return Bad(p, path, "expected an object, got " + std::string(JsonTypeName(type)));
      }
      if (!Walk(nested, paths, depth + 1, inner, user, seen, p)) return false;
    } else if (!SkipValue(value, p)) {
      p.field = KeyForMessage(key);
      return false;
    }
  }
  return true;
}

}  // namespace

FieldPaths::FieldPaths(const RecordFields& fields) {
  for (int f = 0; f < kFields; ++f) {
    const std::string& path = fields[static_cast<size_t>(f)];
    shown_[f] = path;
    for (size_t from = 0; from < path.size();) {
      const size_t dot = std::min(path.find('.', from), path.size());
      keys_[f].push_back(path.substr(from, dot - from));
      from = dot + 1;
    }
  }
}

bool ParseUserObject(od::object object, const FieldPaths& paths, RawUser& user, RecordProblem& p) {
  unsigned wanted = 0, seen = 0;
  for (int f = 0; f < FieldPaths::kFields; ++f) {
    if (!paths.keys(static_cast<FieldPaths::Field>(f)).empty()) wanted |= 1u << f;
  }
  if (!Walk(object, paths, 0, wanted, user, seen, p)) return false;
  for (int f = 0; f < FieldPaths::kFields; ++f) {
    if ((wanted & ~seen) & (1u << f)) {
      return Bad(p, paths.shown(static_cast<FieldPaths::Field>(f)), "missing field");
    }
  }
  return true;
}

bool ParseUserDocument(od::document_reference doc, const FieldPaths& paths, RawUser& user,
                       RecordProblem& p) {
  od::json_type type;
  if (auto e = doc.type().get(type)) return Syntax(p, e);
  if (type != od::json_type::object) {
    // The type comes from the first byte only: make sure the scalar is real JSON ("nonsense"
    // is malformed JSON, not null).
    simdjson::error_code e = simdjson::SUCCESS;
    if (type == od::json_type::null) {
      bool is_null = false;
      e = doc.is_null().get(is_null);
      if (e == simdjson::SUCCESS && !is_null) e = simdjson::N_ATOM_ERROR;
    }
    if (type == od::json_type::boolean) e = doc.get_bool().error();
    if (type == od::json_type::number) e = doc.get_number().error();
    if (type == od::json_type::string) e = doc.get_string().error();
    if (e != simdjson::SUCCESS) return Syntax(p, e);
    return Bad(p, "", "expected a JSON object, got " + std::string(JsonTypeName(type)));
  }
  od::object object;
  if (auto e = doc.get_object().get(object)) return Syntax(p, e);
  return ParseUserObject(object, paths, user, p);
}

std::string DescribeJsonError(simdjson::error_code e) {
  switch (e) {
    case simdjson::UTF8_ERROR:
      return "invalid UTF-8";
    case simdjson::UNCLOSED_STRING:
      return "malformed JSON: unclosed string";
    case simdjson::UNESCAPED_CHARS:
      return "malformed JSON: raw control character (e.g. a NUL byte) inside a string";
    case simdjson::DEPTH_ERROR:
      return "malformed JSON: nested too deeply";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return "malformed JSON: unclosed object or array";
    case simdjson::TRAILING_CONTENT:
      return "malformed JSON: trailing content after the record";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      return "malformed JSON: invalid literal (expected true, false or null)";
    case simdjson::NUMBER_ERROR:
      return "malformed JSON: invalid number";
    case simdjson::STRING_ERROR:
      return "malformed JSON: invalid string escape";
    case simdjson::EMPTY:
      return "malformed JSON: empty document";
    case simdjson::TAPE_ERROR:
    case simdjson::INCORRECT_TYPE:
      return "malformed JSON: unexpected character or missing ',', ':', '}' or ']'";
    default:
      return std::string("malformed JSON: ") + simdjson::error_message(e);
  }
}

std::string_view JsonTypeName(od::json_type type) {
  switch (type) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "a value";
}

}  // namespace pixelmill
