#include "core/cli/flags.h"

#include <algorithm>
#include <map>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"

namespace convgen::cli {
namespace {

std::string Dashed(absl::string_view name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }

// Rewords absl's "Illegal value 'V' specified for flag 'name'[; why]" with
// the dashed name the user typed.
absl::Status InvalidValue(absl::string_view name, absl::string_view value,
                          absl::string_view absl_error) {
  std::string why;
  if (const size_t sep = absl_error.find("'; "); sep != absl::string_view::npos) {
    why = absl::StrCat(": ", absl_error.substr(sep + 3));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value \"", value, "\" for --", Dashed(name), why));
}

bool IsFlag(absl::string_view arg) { return arg.size() >= 2 && arg[0] == '-'; }

}  // namespace

std::string UnderscoreFlagName(absl::string_view arg) {
  std::string out(arg);
  if (!IsFlag(out)) return out;
  const size_t end = std::min(out.find('='), out.size());
  for (size_t c = out[1] == '-' ? 2 : 1; c < end; ++c) {
    if (out[c] == '-') out[c] = '_';
  }
  return out;
}

namespace {

// Parses each repeatable flag once, from all its values joined by commas.
absl::Status ParseGathered(const std::map<std::string, std::vector<std::string>>& gathered) {
  for (const auto& [name, values] : gathered) {
    const std::string joined = absl::StrJoin(values, ",");
    std::string error;
    if (!absl::FindCommandLineFlag(name)->ParseFrom(joined, &error)) {
      return InvalidValue(name, joined, error);
    }
  }
  return absl::OkStatus();
}

// The flag `name` stands for: itself, or for --nofoo (without a value) the
// bool flag foo, with the value "false". Null if none.
absl::CommandLineFlag* FindFlag(absl::string_view name, absl::string_view* value, bool* has_value) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag != nullptr || *has_value || !absl::StartsWith(name, "no")) return flag;
  flag = absl::FindCommandLineFlag(name.substr(2));
  if (flag == nullptr || !flag->IsOfType<bool>()) return nullptr;
  *value = "false";
  *has_value = true;
  return flag;
}

}  // namespace

absl::StatusOr<CommandLine> ParseFlags(int argc, char** argv, size_t max_positional,
                                       absl::Span<const absl::string_view> repeatable) {
  CommandLine result;
  // Values of the repeatable flags, in order, parsed once all are seen.
  std::map<std::string, std::vector<std::string>> gathered;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") {
      result.positional.insert(result.positional.end(), argv + i + 1, argv + argc);
      break;
    }
    if (!IsFlag(arg)) {
      result.positional.emplace_back(arg);
      continue;
    }
    const std::string shown(arg.substr(0, arg.find('=')));  // as the user spelled it
    const std::string underscored = UnderscoreFlagName(arg);
    absl::string_view name = absl::StripPrefix(absl::StripPrefix(underscored, "-"), "-");
    absl::string_view value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != absl::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "help" || name == "helpfull" || name == "h") {
      result.help = true;
      continue;
    }
    absl::CommandLineFlag* flag = FindFlag(name, &value, &has_value);
    if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag ", shown));
    if (!has_value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat(shown, " needs a value"));
      }
    }
    const std::string flag_name(flag->Name());
    result.given.push_back(flag_name);
    if (std::find(repeatable.begin(), repeatable.end(), flag_name) != repeatable.end()) {
      gathered[flag_name].emplace_back(value);
      continue;
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) return InvalidValue(flag_name, value, error);
  }
  CONVGEN_RETURN_IF_ERROR(ParseGathered(gathered));
  if (result.positional.size() > max_positional) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument ", result.positional[max_positional]));
  }
  return result;
}

std::string FlagsHelp(absl::string_view defined_in) {
  return FlagsHelp(defined_in, absl::Span<const absl::string_view>());
}

std::string FlagsHelp(absl::string_view defined_in, absl::Span<const absl::string_view> names) {
  std::vector<std::string> lines;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::EndsWith(flag->Filename(), defined_in)) continue;
    if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
    std::string line = absl::StrCat("  --", Dashed(name), ": ", flag->Help());
    const std::string default_value = flag->DefaultValue();
    if (!default_value.empty() && !flag->IsOfType<bool>()) {
      absl::StrAppend(&line, " (default: ", default_value, ")");
    }
    lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end());
  return absl::StrCat(absl::StrJoin(lines, "\n"), "\n");
}

}  // namespace convgen::cli
