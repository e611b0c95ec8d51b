#include "pipelines/python_env.h"

#include <algorithm>
#include <set>

namespace skiff::pipelines {
namespace {

struct Token {
  std::string text;
  bool op = false;  // a control operator: && || ; ( ) or a newline
};

// A small POSIX-shell tokenizer, enough for the SDK's prelude: quotes, backslashes, $(...),
// control operators. Returns false on an unterminated quote.
bool Tokenize(const std::string& s, std::vector<Token>* out) {
  std::string word;
  bool in_word = false;
  auto flush = [&] {
    if (in_word) out->push_back({word, false});
    word.clear();
    in_word = false;
  };
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\'') {
      size_t end = s.find('\'', i + 1);
      if (end == std::string::npos) return false;
      word += s.substr(i + 1, end - i - 1);
      in_word = true;
      i = end + 1;
    } else if (c == '"') {
      ++i;
      in_word = true;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size() &&
            (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == '$' || s[i + 1] == '`')) {
          word += s[i + 1];
          i += 2;
        } else {
          word += s[i++];
        }
      }
      if (i >= s.size()) return false;
      ++i;
    } else if (c == '\\' && i + 1 < s.size()) {
      if (s[i + 1] != '\n') {
        word += s[i + 1];
        in_word = true;
      }
      i += 2;
    } else if (c == '$' && i + 1 < s.size() && s[i + 1] == '(') {
      int depth = 0;
      size_t j = i + 1;
      for (; j < s.size(); ++j) {
        if (s[j] == '(') ++depth;
        if (s[j] == ')' && --depth == 0) break;
      }
      if (j >= s.size()) return false;
      word += s.substr(i, j - i + 1);
      in_word = true;
      i = j + 1;
    } else if (c == ' ' || c == '\t') {
      flush();
      ++i;
    } else if (c == '\n' || c == ';' || c == '(' || c == ')') {
      flush();
      out->push_back({std::string(1, c), true});
      ++i;
    } else if ((c == '&' || c == '|') && i + 1 < s.size() && s[i + 1] == c) {
      flush();
      out->push_back({std::string(2, c), true});
      i += 2;
    } else {
      word += c;
      in_word = true;
      ++i;
    }
  }
  flush();
  return true;
}

// Words the SDK's preludes contain besides pip's own arguments.
const std::set<std::string>& AllowedWords() {
  static const std::set<std::string> words = {"if",
                                              "!",
                                              "[",
                                              "-x",
                                              "$(command -v pip)",
                                              "]",
                                              "then",
                                              "fi",
                                              "python3",
                                              "-m",
                                              "ensurepip",
                                              "--user",
                                              "apt-get",
                                              "install",
                                              "python3-pip",
                                              "PIP_DISABLE_PIP_VERSION_CHECK=1",
                                              "export",
                                              "tmp=$(mktemp -d)",
                                              "venv",
                                              "$tmp/venv",
                                              "--system-site-packages",
                                              ".",
                                              "$tmp/venv/bin/activate"};
  return words;
}

void AddUnique(std::vector<std::string>* list, const std::string& value) {
  if (std::find(list->begin(), list->end(), value) == list->end()) list->push_back(value);
}

}  // namespace

bool IsPythonImage(const std::string& image) {
  std::string repo = image;
  if (size_t at = repo.find('@'); at != std::string::npos) repo.resize(at);
  size_t slash = repo.rfind('/');
  std::string last = slash == std::string::npos ? repo : repo.substr(slash + 1);
  if (size_t colon = last.find(':'); colon != std::string::npos) last.resize(colon);
  return last == "python";
}

PythonEnvPlan PlanPythonEnv(const std::vector<std::string>& command,
                            const std::vector<std::string>& args) {
  PythonEnvPlan plan;
  if (command.size() < 3) return plan;
  if (command[0] != "sh" && command[0] != "/bin/sh" && command[0] != "bash" &&
      command[0] != "/bin/bash") {
    return plan;
  }
  if (command[1] != "-c" && command[1] != "-ec") return plan;
  const std::string& script = command[2];
  if (script.find("pip install") == std::string::npos) return plan;

  std::vector<Token> tokens;
  if (!Tokenize(script, &tokens)) return plan;
  while (!tokens.empty() && tokens.back().op && tokens.back().text == "\n") tokens.pop_back();
  // The prelude must end by running the rest of the command: "$0" "$@".
  if (tokens.size() < 3 || tokens[tokens.size() - 2].text != "$0" || tokens.back().text != "$@" ||
      tokens[tokens.size() - 3].text != "&&") {
    return plan;
  }
  tokens.resize(tokens.size() - 2);

  bool saw_install = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.op) continue;
    bool pip_install = t.text == "python3" && i + 3 < tokens.size() && tokens[i + 1].text == "-m" &&
                       tokens[i + 2].text == "pip" && tokens[i + 3].text == "install";
    if (!pip_install) {
      if (!AllowedWords().count(t.text)) return plan;  // something we do not understand
      continue;
    }
    saw_install = true;
    i += 4;
    std::vector<std::string> group;
    bool no_deps = false;
    for (; i < tokens.size() && !tokens[i].op; ++i) {
      const std::string& a = tokens[i].text;
      if (a == "--index-url" || a == "-i" || a == "--extra-index-url" || a == "--trusted-host") {
        if (i + 1 >= tokens.size() || tokens[i + 1].op) return plan;
        const std::string& v = tokens[++i].text;
        if (a == "--trusted-host") {
          AddUnique(&plan.trusted_hosts, v);
        } else {
          AddUnique(&plan.index_urls, v);
        }
      } else if (a == "--no-deps") {
        no_deps = true;
      } else if (a == "--quiet" || a == "-q" || a == "--no-warn-script-location" || a == "--user" ||
                 a == "--upgrade" || a == "-U") {
        continue;
      } else if (!a.empty() && a[0] == '-') {
        return plan;  // an option we would silently drop
      } else {
        group.push_back(a);
      }
    }
    --i;
    for (const std::string& p : group) {
      AddUnique(&plan.packages, p);
      if (no_deps) AddUnique(&plan.no_deps_packages, p);
    }
  }
  if (!saw_install) return plan;

  plan.recognised = true;
  // "$0" "$@" of `sh -c script a0 a1 ...` runs a0 a1 ...: the rest of the command, then args.
  if (command.size() > 3) {
    plan.command.assign(command.begin() + 3, command.end());
    plan.args = args;
  } else {
    plan.command = args;
  }
  return plan;
}

KfpExecutorCall RecogniseKfpExecutor(const std::vector<std::string>& command,
                                     const std::vector<std::string>& args) {
  // Command and args together are: sh -ec PROGRAM SOURCE ARGS...
  std::vector<std::string> all = command;
  all.insert(all.end(), args.begin(), args.end());
  KfpExecutorCall call;
  if (all.size() < 4 || (all[0] != "sh" && all[0] != "/bin/sh") || all[1] != "-ec") return call;
  static const std::vector<std::string> kProgram = {"program_path=$(mktemp",
                                                    "-d)",
                                                    "printf",
                                                    "\"%s\"",
                                                    "\"$0\"",
                                                    ">",
                                                    "\"$program_path/ephemeral_component.py\"",
                                                    "_KFP_RUNTIME=true",
                                                    "python3",
                                                    "-m",
                                                    "kfp.dsl.executor_main",
                                                    "--component_module_path",
                                                    "\"$program_path/ephemeral_component.py\"",
                                                    "\"$@\""};
  std::vector<std::string> words;
  std::string word;
  for (char ch : all[2] + " ") {
    if (ch == ' ' || ch == '\n' || ch == '\t') {
      if (!word.empty()) words.push_back(word);
      word.clear();
    } else {
      word += ch;
    }
  }
  if (words != kProgram) return call;
  call.recognised = true;
  call.source = all[3];
  call.args.assign(all.begin() + 4, all.end());
  return call;
}

}  // namespace skiff::pipelines
