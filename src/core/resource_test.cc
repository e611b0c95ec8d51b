#include "core/resource.h"

#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/ids.h"

namespace skiff {
namespace {

TEST(FieldColumn, ShowsTheFieldAtItsPathAsItIs) {
  PrinterColumn owner = FieldColumn("OWNER", ".spec.owner.name");
  EXPECT_EQ(owner.json_path, ".spec.owner.name");
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(owner.value(Json{{"spec", {{"owner", {{"name", "ada"}}}}}}, now), "ada");
  EXPECT_EQ(owner.value(Json{{"spec", {{"owner", {{"name", 7}}}}}}, now), "7");
  EXPECT_EQ(owner.value(Json{{"spec", {{"owner", "not an object"}}}}, now), "");
  EXPECT_EQ(owner.value(Json{{"spec", nullptr}}, now), "");
  EXPECT_EQ(owner.value(Json::array(), now), "");
  EXPECT_EQ(FieldColumn("TYPE", ".type").value(Json{{"type", "Normal"}}, now), "Normal");
}

TEST(ColumnTitle, WritesAColumnNameAsKubernetesDoes) {
  EXPECT_EQ(ColumnTitle("COMPLETIONS"), "Completions");
  EXPECT_EQ(ColumnTitle("DISPLAY NAME"), "Display Name");
  EXPECT_EQ(ColumnTitle("CPU-SECONDS"), "Cpu-seconds");
}

TEST(ParseYamlDocuments, ReadsMultipleDocumentsAndResolvesScalarTypes) {
  auto docs = ParseYamlDocuments("a: 1\nb: '1'\nc: true\nd: 1.5\ne: ~\n---\nf: [x, 2]\n", "t.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0]["a"], 1);
  EXPECT_EQ((*docs)[0]["b"], "1");
  EXPECT_EQ((*docs)[0]["c"], true);
  EXPECT_DOUBLE_EQ((*docs)[0]["d"].get<double>(), 1.5);
  EXPECT_TRUE((*docs)[0]["e"].is_null());
  EXPECT_EQ((*docs)[1]["f"][1], 2);
}

TEST(ParseYamlDocuments, MalformedYamlNamesSourceAndLine) {
  auto docs = ParseYamlDocuments("a: 1\nb: [1, 2\n", "bad.yaml");
  ASSERT_FALSE(docs.ok());
  EXPECT_EQ(docs.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(docs.status().message().find("bad.yaml"), std::string::npos);
  EXPECT_NE(docs.status().message().find("line"), std::string::npos);
}

TEST(ParseYamlDocuments, RefusesDocumentsNestedTooDeep) {
  const std::string deep_flow = std::string(100000, '[') + std::string(100000, ']');
  auto r = ParseJsonOrYaml(deep_flow, "cm.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("cm.yaml"), std::string::npos) << r.status().message();

  std::string deep_block;  // "- - - - ... x": sequences in sequences on one line
  for (int i = 0; i < 200; ++i) deep_block += "- ";
  deep_block += "x\n";
  r = ParseJsonOrYaml(deep_block, "seq.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper than 128"), std::string::npos)
      << r.status().message();

  std::string fits = std::string(kMaxDepth, '[') + std::string(kMaxDepth, ']');
  EXPECT_TRUE(ParseJsonOrYaml(fits, "ok").ok());
}

TEST(ParseYamlDocuments, NumbersOutOfRangeAreErrorsNotExceptions) {
  for (const char* text :
       {"a: 1e400", "a: -1e400", "a: 0x1ffffffffffffffff", "a: 0o7777777777777777777777777"}) {
    auto r = ParseJsonOrYaml(text, "n.yaml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find("number out of range"), std::string::npos)
        << r.status().message();
  }
  auto big = ParseJsonOrYaml("a: 99999999999999999999", "n.yaml");  // past int64: a double
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE((*big)["a"].is_number_float());
  EXPECT_EQ(ParseJsonOrYaml("a: +5", "n.yaml").value()["a"], 5);
  // JSON has no infinities or NaN: refused instead of being written back as null.
  for (const char* text : {"a: .inf", "a: -.Inf", "a: .nan"}) {
    auto r = ParseJsonOrYaml(text, "n.yaml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find("not representable in JSON"), std::string::npos);
  }
  EXPECT_EQ(ParseJsonOrYaml("a: '.inf'", "n.yaml").value()["a"], ".inf");
}

TEST(ParseJson, RefusesDeepDocumentsHugeNumbersAndMalformedText) {
  auto r = ParseJson(std::string(100000, '[') + std::string(100000, ']'), "body");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("body: nested deeper than 128 levels at byte 128"),
            std::string::npos)
      << r.status().message();
  // Brackets inside strings do not count.
  std::string in_string = "{\"a\": \"" + std::string(1000, '[') + "\\\"\"}";
  ASSERT_TRUE(ParseJson(in_string, "body").ok()) << ParseJson(in_string, "body").status().message();
  r = ParseJson("{\"a\": 1e400}", "body");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("1e400"), std::string::npos) << r.status().message();
  r = ParseJson("{\"a\": ", "body");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("body: malformed JSON"), std::string::npos);
}

TEST(ToYaml, RoundTripsThroughParse) {
  Json v = {{"s", "123"}, {"n", 123}, {"b", "true"}, {"l", {1, "x"}}, {"o", {{"k", nullptr}}}};
  auto back = ParseJsonOrYaml(ToYaml(v), "round");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, v);
}

TEST(MergePatch, NullDeletesAndObjectsMerge) {
  Json t = {{"a", 1}, {"b", {{"c", 2}, {"d", 3}}}};
  MergePatch(t, Json{{"a", nullptr}, {"b", {{"c", 5}}}});
  EXPECT_EQ(t, (Json{{"b", {{"c", 5}, {"d", 3}}}}));
}

TEST(LabelSelector, SupportsEqualityAndSetTerms) {
  auto sel = LabelSelector::Parse("app=web,tier in (a, b),!legacy,env!=prod");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches({{"app", "web"}, {"tier", "b"}, {"env", "dev"}}));
  EXPECT_FALSE(sel->Matches({{"app", "web"}, {"tier", "c"}}));
  EXPECT_FALSE(sel->Matches({{"app", "web"}, {"tier", "a"}, {"legacy", "1"}}));
  EXPECT_FALSE(sel->Matches({{"app", "web"}, {"tier", "a"}, {"env", "prod"}}));
  EXPECT_FALSE(LabelSelector::Parse("a=b,,c").ok());
  EXPECT_TRUE(LabelSelector::Parse("skiff.dev/run-name=r1,x in ()").ok());
}

TEST(ParseYamlDocuments, ReadsOnlyUtf8TextWithoutControlCharacters) {
  // Found by fuzzing: a NUL byte made the YAML reader take the text as UTF-16 (another document
  // than the one sent) or loop for seconds; invalid UTF-8 reached strings the JSON writer threw on.
  for (const std::string& text :
       {std::string("a: b\0c", 6), std::string("\x02\0se: x", 7), std::string("a: \xff\xfe"),
        std::string("a: \xc3"), std::string("a: \xed\xa0\x80"), std::string("a: \x1b[31m"),
        std::string("a: \x7f")}) {
    auto r = ParseYamlDocuments(text, "bad.yaml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find("bad.yaml: "), std::string::npos);
    EXPECT_NE(r.status().message().find(" at offset "), std::string::npos) << r.status().message();
  }
  auto ok =
      ParseJsonOrYaml("a: \"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\"\nb:\tc\r\n", "ok.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)["a"], "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80");
  EXPECT_TRUE(ParseJsonOrYaml("{\"a\": \"\\u0000\"}", "escaped.json").ok())
      << "an escaped NUL in a JSON string is text";
}

TEST(ToYaml, WritesStringsThatReadBackTheSame) {
  // Found by fuzzing: "a\r" was written plain and read back as "a", a NEL ("\N") as a break.
  for (const char* s : {"a\r",
                        " a",
                        "a ",
                        "\t",
                        "a\nb",
                        ".inf",
                        "-.Inf",
                        ".nan",
                        "5",
                        "true",
                        "null",
                        "~",
                        "",
                        "x: y",
                        "- z",
                        "#c",
                        "'q'",
                        "\"d\"",
                        "...",
                        "--- x",
                        "..a",
                        "a\xc2\x85-b",
                        "\xc2\x85",
                        "x\xe2\x80\xa8y",
                        "\xef\xbb\xbfz",
                        "caf\xc3\xa9 \xe2\x9c\x93"}) {
    Json doc = {{"k", s}, {s, "v"}};
    auto back = ParseJsonOrYaml(ToYaml(doc), "back.yaml");
    ASSERT_TRUE(back.ok()) << s << ": " << back.status().ToString();
    EXPECT_EQ(*back, doc) << ToYaml(doc);
  }
}

TEST(ParseYamlDocuments, EscapesThatYieldNoUtf8AreErrors) {
  // Found by fuzzing: yaml-cpp reads "\N" and "\_" as single Latin-1 bytes.
  EXPECT_FALSE(ParseYamlDocuments("a: \"x\\Ny\"", "n.yaml").ok());
  EXPECT_FALSE(ParseYamlDocuments("a: \"x\\_y\"", "n.yaml").ok());
  auto ok = ParseJsonOrYaml("a: \"x\\u0085\\ty\\x41\"", "n.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)["a"], "x\xc2\x85\tyA");
}

TEST(ParseYamlDocuments, MalformedInputThatHungTheYamlLibraryIsAnError) {
  // Found by fuzzing: yaml-cpp's LoadAll looped for ever, growing, on these.
  for (const char* text : {"{\"schemum\": 0},apiVersi \"apo", ",", "[a], b"}) {
    EXPECT_FALSE(ParseYamlDocuments(text, "bad.yaml").ok()) << text;
  }
}

TEST(ParseYamlDocuments, AliasesAreCopiesAndAnAliasBombIsRefused) {
  auto docs = ParseYamlDocuments("a: &x {k: 1}\nb: *x\nc: &n 5\nd: *n\n*n : e\n", "a.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_EQ((*docs)[0],
            (Json{{"a", {{"k", 1}}}, {"b", {{"k", 1}}}, {"c", 5}, {"d", 5}, {"5", "e"}}));
  std::string bomb = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    bomb += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + prev;
    for (int k = 0; k < 9; ++k) bomb += ", " + prev;
    bomb += "]\n";
  }
  auto r = ParseYamlDocuments(bomb, "bomb.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("values (aliases included)"), std::string::npos)
      << r.status().message();
}

TEST(ParseYamlDocuments, SkipsEmptyDocumentsAndRefusesKeysThatAreNoScalars) {
  auto docs = ParseYamlDocuments("a: 1\n---\n---\n~\n---\nb: 2\n", "m.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_EQ(*docs, (std::vector<Json>{{{"a", 1}}, {{"b", 2}}}));
  EXPECT_FALSE(ParseYamlDocuments("? [a]\n: 1\n", "k.yaml").ok());
  EXPECT_FALSE(ParseYamlDocuments("? {a: b}\n: 1\n", "k.yaml").ok());
  auto quoted = ParseJsonOrYaml("'1': \"2\"\nn: 2\nt: !!str 3\n", "q.yaml");
  ASSERT_TRUE(quoted.ok());
  EXPECT_EQ(*quoted, (Json{{"1", "2"}, {"n", 2}, {"t", "3"}}));
}

TEST(LabelSelector, RefusesWhatIsNoLabelKeyOrValue) {
  // Found by fuzzing: a stray ')' once split terms differently in "S" and in "S,S".
  for (const char* text : {"a in (x)), b", "a in ((x))", "a in (x", "a=b)", "k\x01=v", "a=b c",
                           "a=-x", "/a=b", "Bad.Prefix/a=b", "a=b\xc3"}) {
    EXPECT_FALSE(LabelSelector::Parse(text).ok()) << text;
  }
  std::string long_value(64, 'v');
  EXPECT_FALSE(LabelSelector::Parse("a=" + long_value).ok());
  EXPECT_TRUE(LabelSelector::Parse("a=" + long_value.substr(1)).ok());
}

TEST(ValidateName, RefusesUppercaseAndEmpty) {
  EXPECT_TRUE(ValidateName("pi-1.x", "metadata.name").ok());
  EXPECT_FALSE(ValidateName("Pi", "metadata.name").ok());
  EXPECT_FALSE(ValidateName("", "metadata.name").ok());
  EXPECT_FALSE(ValidateName("-a", "metadata.name").ok());
}

TEST(TypeRegistry, ResolvesKindsPluralsAndShortNames) {
  TypeRegistry r;
  r.Add({"batch", "v1", "Job", "jobs", true, {"job"}});
  RegisterCoreKinds(r);
  ASSERT_NE(r.Lookup("job"), nullptr);
  EXPECT_EQ(r.Lookup("cm")->kind, "ConfigMap");
  EXPECT_EQ(r.Lookup("Jobs")->StoreType(), "jobs.batch");
  EXPECT_EQ(r.ByKind("batch/v1", "Job")->plural, "jobs");
  EXPECT_EQ(r.Lookup("nope"), nullptr);
  // Registering a kind again replaces it; pointers handed out stay valid.
  const ResourceType* job = r.Lookup("jobs");
  r.Add({"batch", "v1", "Job", "jobs", true, {"job", "jb"}});
  EXPECT_EQ(r.Lookup("jb"), job);
  EXPECT_EQ(r.All().size(), 3u);
}

TEST(Rfc3339, FormatsAndParsesUtc) {
  TimePoint t;
  ASSERT_TRUE(ParseRfc3339("2026-11-23T15:04:05Z", &t));
  EXPECT_EQ(FormatRfc3339(t), "2026-11-23T15:04:05Z");
  ASSERT_TRUE(ParseRfc3339("2026-11-23T16:04:05.5+01:00", &t));
  EXPECT_EQ(FormatRfc3339(t), "2026-11-23T15:04:05Z");
  EXPECT_FALSE(ParseRfc3339("yesterday", &t));
  // Found by fuzzing: years a TimePoint cannot hold overflowed the conversion.
  EXPECT_FALSE(ParseRfc3339("1012-01-01T00:00:00Z", &t));
  EXPECT_FALSE(ParseRfc3339("9999-12-31T23:59:59Z", &t));
  EXPECT_TRUE(ParseRfc3339("1970-01-01T00:00:00Z", &t));
}

TEST(Ids, UuidsAreWellFormedAndDistinct) {
  std::string a = NewUuid(), b = NewUuid();
  EXPECT_EQ(a.size(), 36u);
  EXPECT_NE(a, b);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(GenerateName("pi-").size(), 8u);
}

}  // namespace
}  // namespace skiff

#include "core/quantity.h"

namespace skiff {
namespace {

TEST(Quantity, ParsesCpuAndMemorySuffixes) {
  EXPECT_EQ(*ParseCpuMillis("500m", "cpu"), 500);
  EXPECT_EQ(*ParseCpuMillis("2", "cpu"), 2000);
  EXPECT_EQ(*ParseCpuMillis(0.5, "cpu"), 500);
  EXPECT_EQ(*ParseMemoryBytes("128Mi", "mem"), 134217728);
  EXPECT_EQ(*ParseMemoryBytes("1G", "mem"), 1000000000);
  auto bad = ParseMemoryBytes("lots", "spec.resources.limits.memory");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("spec.resources.limits.memory"), std::string::npos);
}

TEST(Quantity, FollowsKubernetesGrammar) {
  EXPECT_EQ(*ParseCpuMillis(".5", "cpu"), 500);
  EXPECT_EQ(*ParseCpuMillis("5.", "cpu"), 5000);
  EXPECT_EQ(*ParseCpuMillis("+1", "cpu"), 1000);
  EXPECT_EQ(*ParseCpuMillis("1e-3", "cpu"), 1);
  EXPECT_EQ(*ParseCpuMillis("1E3", "cpu"), 1000000);
  EXPECT_EQ(*ParseMemoryBytes("1E", "mem"), 1000000000000000000);  // E alone is exa
  EXPECT_EQ(*ParseMemoryBytes("1.5Ki", "mem"), 1536);
  EXPECT_EQ(*ParseMemoryBytes("0.0000001", "mem"), 1);
  EXPECT_EQ(*ParseMemoryBytes("1.1e1", "mem"), 11);  // read as one number: not 11.000000000000002
  EXPECT_EQ(*ParseMemoryBytes("0.000e99", "mem"), 0);
  for (const char* text : {"", "m", "1x", "1 Gi", "1e", "1e3Mi", "1e1.5", "--1", ".", "1ki", "Gi",
                           "0x10", "1e+", "inf", "nan"}) {
    EXPECT_FALSE(ParseMemoryBytes(text, "mem").ok()) << text;
  }
}

TEST(Quantity, ValuesOutOfRangeAreErrorsNotExceptionsOrOverflow) {
  // Once a 500 (std::stod threw on "1e400") and an int64 overflow for values past 2^63.
  for (const char* text : {"1e400", "1e19", "9.3e18", "10Ei", "1e300"}) {
    auto r = ParseMemoryBytes(text, "spec.resources.limits.memory");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find("spec.resources.limits.memory: is too large"),
              std::string::npos)
        << r.status().ToString();
  }
  EXPECT_FALSE(ParseCpuMillis("9.3e15", "cpu").ok());  // 9.3e18 millicores
  EXPECT_FALSE(ParseCpuMillis(1e300, "cpu").ok());
  EXPECT_FALSE(ParseCpuMillis("-1", "cpu").ok());
  EXPECT_TRUE(ParseCpuMillis("1e-400", "cpu").ok());  // underflows to 0
  EXPECT_EQ(*ParseMemoryBytes("1e18", "mem"), 1000000000000000000);
  // A number of 100,000 digits is refused as too large, not a stack overflow in a regex.
  std::string long_number(100000, '9');
  EXPECT_FALSE(ParseMemoryBytes(long_number, "mem").ok());
  EXPECT_FALSE(ParseMemoryBytes("1e99999999999", "mem").ok());
}

}  // namespace
}  // namespace skiff

namespace skiff {
namespace {

TEST(Base64, RoundTripsAndRefusesGarbage) {
  EXPECT_EQ(EncodeBase64("hunter2"), "aHVudGVyMg==");
  EXPECT_EQ(*DecodeBase64("aHVudGVyMg=="), "hunter2");
  EXPECT_EQ(*DecodeBase64("aHVudGVyMg"), "hunter2");
  EXPECT_FALSE(DecodeBase64("not base64!").ok());
}

}  // namespace
}  // namespace skiff

namespace skiff {
namespace {

ResourceType Kind(const std::string& group, const std::string& kind, const std::string& plural,
                  std::vector<std::string> short_names = {}) {
  ResourceType t;
  t.group = group;
  t.version = "v1";
  t.kind = kind;
  t.plural = plural;
  t.short_names = std::move(short_names);
  return t;
}

TEST(TypeRegistry, RefusesASecondKindWithTheSameGroupAndPluralOrKind) {
  TypeRegistry types;
  ASSERT_TRUE(types.TryAdd(Kind("kubeflow.org", "Experiment", "experiments")).ok());
  EXPECT_TRUE(types.TryAdd(Kind("kubeflow.org", "Experiment", "experiments", {"exp"})).ok())
      << "the same kind again replaces its registration";
  EXPECT_EQ(types.All().size(), 1u);
  EXPECT_EQ(types.All().front().short_names, (std::vector<std::string>{"exp"}));
  Status plural = types.TryAdd(Kind("kubeflow.org", "Trial", "experiments"));
  EXPECT_EQ(plural.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(plural.message().find("experiments.kubeflow.org"), std::string::npos)
      << plural.message();
  EXPECT_EQ(types.TryAdd(Kind("kubeflow.org", "Experiment", "exps")).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(types.All().size(), 1u);
  EXPECT_DEATH(types.Add(Kind("kubeflow.org", "Trial", "experiments")), "collides");
}

TEST(TypeRegistry, ResolvesANameTwoGroupsShareOnlyWhenQualified) {
  TypeRegistry types;
  types.Add(Kind("pipelines.kubeflow.org", "Experiment", "experiments", {"kfpexperiment"}));
  types.Add(Kind("kubeflow.org", "Experiment", "experiments"));
  types.Add(Kind("batch", "Job", "jobs"));
  types.Add(Kind("", "Pod", "pods", {"po"}));
  for (const char* name : {"experiments", "experiment", "Experiment"}) {
    auto r = types.Resolve(name);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(
        r.status().message().find("experiments.pipelines.kubeflow.org, experiments.kubeflow.org"),
        std::string::npos)
        << r.status().message();
    EXPECT_EQ(types.Lookup(name), nullptr);
  }
  EXPECT_EQ((*types.Resolve("experiments.kubeflow.org"))->group, "kubeflow.org");
  EXPECT_EQ((*types.Resolve("experiment.kubeflow.org"))->group, "kubeflow.org");
  EXPECT_EQ((*types.Resolve("experiments.pipelines.kubeflow.org"))->group,
            "pipelines.kubeflow.org");
  EXPECT_EQ((*types.Resolve("kfpexperiment"))->group, "pipelines.kubeflow.org");
  EXPECT_EQ((*types.Resolve("JOB"))->kind, "Job");
  EXPECT_EQ((*types.Resolve("jobs.batch"))->kind, "Job");
  EXPECT_EQ((*types.Resolve("po"))->kind, "Pod");
  EXPECT_EQ(types.Resolve("gadgets").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace skiff
