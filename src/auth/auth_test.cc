#include "auth/auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "auth/testing/auth_testing.h"

namespace skiff {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenTestStore(dir_, clock_);
    ASSERT_NE(store_, nullptr);
  }

  std::string Mint(const std::string& user) {
    auto minted = MintToken(*store_, clock_, user);
    EXPECT_TRUE(minted.ok()) << minted.status().ToString();
    return minted.ok() ? minted->token : "";
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(AuthTest, MintedTokenAuthenticatesAsItsUser) {
  ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
  std::string token = Mint("bob");
  EXPECT_EQ(token.rfind("skf_", 0), 0u);
  Authenticator authn(*store_, clock_);
  auto who = authn.Authenticate("Bearer " + token);
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->user, "bob");
  EXPECT_FALSE(who->is_admin);
}

TEST_F(AuthTest, StoredTokenHoldsOnlyTheHashOfTheSecret) {
  ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
  auto minted = MintToken(*store_, clock_, "bob");
  ASSERT_TRUE(minted.ok());
  std::string id;
  std::string secret;
  ASSERT_TRUE(ParseToken(minted->token, &id, &secret).ok());
  EXPECT_EQ(id, minted->id);
  auto stored = store_->Get(kApiTokenType, "", id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->dump().find(secret), std::string::npos);
  EXPECT_EQ((*stored)["spec"]["user"], "bob");
  EXPECT_EQ((*stored)["spec"]["sha256"].get<std::string>().size(), 64u);
}

TEST_F(AuthTest, ClusterAdminFlagComesFromTheUser) {
  ASSERT_TRUE(CreateUser(*store_, "root", true).ok());
  Authenticator authn(*store_, clock_);
  auto who = authn.Authenticate("Bearer " + Mint("root"));
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(who->is_admin);
}

TEST_F(AuthTest, MintingForAMissingUserIsNotFound) {
  auto minted = MintToken(*store_, clock_, "ghost");
  ASSERT_FALSE(minted.ok());
  EXPECT_EQ(minted.status().code(), StatusCode::kNotFound);
  EXPECT_NE(minted.status().message().find("ghost"), std::string::npos);
}

TEST_F(AuthTest, WrongSecretIsRejected) {
  ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
  std::string token = Mint("bob");
  Authenticator authn(*store_, clock_);
  ASSERT_TRUE(authn.Authenticate("Bearer " + token).ok());  // now cached
  std::string forged = token.substr(0, token.size() - 1) + (token.back() == 'a' ? "b" : "a");
  auto who = authn.Authenticate("Bearer " + forged);
  ASSERT_FALSE(who.ok());
  EXPECT_EQ(who.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, UnknownIdIsRejected) {
  Authenticator authn(*store_, clock_);
  auto who = authn.Authenticate("Bearer skf_0123456789abcdef_secret");
  ASSERT_FALSE(who.ok());
  EXPECT_EQ(who.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, MalformedHeadersAreRejectedWithAReason) {
  Authenticator authn(*store_, clock_);
  for (const std::string header :
       {"", "skf_abc_def", "Basic dXNlcjpwdw==", "Bearer ", "Bearer nope", "Bearer skf_nope_nope",
        "Bearer skf__secret", "Bearer skf_abc_"}) {
    auto who = authn.Authenticate(header);
    ASSERT_FALSE(who.ok()) << header;
    EXPECT_EQ(who.status().code(), StatusCode::kUnauthenticated) << header;
    EXPECT_FALSE(who.status().message().empty());
  }
  EXPECT_NE(authn.Authenticate("").status().message().find("missing"), std::string::npos);
}

TEST_F(AuthTest, DeletedTokenStopsWorkingOnceTheCacheEntryAges) {
  ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
  auto minted = MintToken(*store_, clock_, "bob");
  ASSERT_TRUE(minted.ok());
  Authenticator authn(*store_, clock_, {.cache_ttl = std::chrono::seconds(2)});
  ASSERT_TRUE(authn.VerifyToken(minted->token).ok());
  ASSERT_TRUE(store_->Delete(kApiTokenType, "", minted->id).ok());  // as another process would
  EXPECT_TRUE(authn.VerifyToken(minted->token).ok());               // still cached
  clock_.Advance(std::chrono::seconds(3));
  auto who = authn.VerifyToken(minted->token);
  ASSERT_FALSE(who.ok());
  EXPECT_EQ(who.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, InvalidateForgetsADeletedTokenAtOnce) {
  ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
  auto minted = MintToken(*store_, clock_, "bob");
  ASSERT_TRUE(minted.ok());
  Authenticator authn(*store_, clock_);
  ASSERT_TRUE(authn.VerifyToken(minted->token).ok());
  ASSERT_TRUE(store_->Delete(kApiTokenType, "", minted->id).ok());
  authn.Invalidate(minted->id);
  EXPECT_FALSE(authn.VerifyToken(minted->token).ok());
}

TEST_F(AuthTest, ExpiredTokenIsRejected) {
  ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
  auto minted = MintToken(*store_, clock_, "bob", clock_.Now() + std::chrono::seconds(60));
  ASSERT_TRUE(minted.ok());
  Authenticator authn(*store_, clock_);
  ASSERT_TRUE(authn.VerifyToken(minted->token).ok());
  clock_.Advance(std::chrono::seconds(61));
  auto who = authn.VerifyToken(minted->token);
  ASSERT_FALSE(who.ok());
  EXPECT_NE(who.status().message().find("expired"), std::string::npos);
}

TEST_F(AuthTest, TokenOfADeletedUserIsRejected) {
  ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
  std::string token = Mint("bob");
  ASSERT_TRUE(store_->Delete(kUserType, "", "bob").ok());
  Authenticator authn(*store_, clock_);
  EXPECT_EQ(authn.VerifyToken(token).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, CacheStaysWithinItsCapacity) {
  ASSERT_TRUE(CreateUser(*store_, "bob", false).ok());
  Authenticator authn(*store_, clock_, {.cache_capacity = 2});
  std::vector<MintedToken> tokens;
  for (int i = 0; i < 4; ++i) {
    auto minted = MintToken(*store_, clock_, "bob");
    ASSERT_TRUE(minted.ok());
    tokens.push_back(*minted);
    ASSERT_TRUE(authn.VerifyToken(minted->token).ok());
  }
  // The oldest was evicted: deleting it is noticed at once; the newest is still cached.
  ASSERT_TRUE(store_->Delete(kApiTokenType, "", tokens[0].id).ok());
  ASSERT_TRUE(store_->Delete(kApiTokenType, "", tokens[3].id).ok());
  EXPECT_FALSE(authn.VerifyToken(tokens[0].token).ok());
  EXPECT_TRUE(authn.VerifyToken(tokens[3].token).ok());
}

TEST_F(AuthTest, BootstrapWritesAnAdminTokenFileWithMode0600) {
  std::string home = dir_.path() + "/home/.skiff";
  auto path = Bootstrap(*store_, clock_, home);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, home + "/admin-token");
  struct stat st;
  ASSERT_EQ(::stat(path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string token = ReadFile(*path);
  Authenticator authn(*store_, clock_);
  auto who = authn.VerifyToken(token.substr(0, token.find('\n')));
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->user, "admin");
  EXPECT_TRUE(who->is_admin);
}

TEST_F(AuthTest, BootstrapIsIdempotentAndReplacesAMissingFile) {
  std::string home = dir_.path();
  auto path = Bootstrap(*store_, clock_, home);
  ASSERT_TRUE(path.ok());
  std::string first = ReadFile(*path);
  ASSERT_TRUE(Bootstrap(*store_, clock_, home).ok());
  EXPECT_EQ(ReadFile(*path), first);
  auto tokens = store_->List(kApiTokenType, "", {});
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(tokens->items.size(), 1u);

  ASSERT_EQ(std::remove(path->c_str()), 0);
  ASSERT_TRUE(Bootstrap(*store_, clock_, home).ok());
  std::string second = ReadFile(*path);
  EXPECT_NE(second, first);
  Authenticator authn(*store_, clock_);
  EXPECT_TRUE(authn.VerifyToken(second.substr(0, second.find('\n'))).ok());
}

// --- Authorizer ---

class AuthorizerTest : public AuthTest {
 protected:
  void SetUp() override {
    AuthTest::SetUp();
    ASSERT_NE(store_, nullptr);
    authz_ = std::make_unique<Authorizer>(*store_);
    Json profile = {{"apiVersion", "kubeflow.org/v1"},
                    {"kind", "Profile"},
                    {"metadata", {{"name", "team-a"}}},
                    {"spec", {{"owner", {{"kind", "User"}, {"name", "owner"}}}}}};
    ASSERT_TRUE(store_->Create(kProfileType, profile).ok());
    Bind("alice", "admin");
    Bind("eddie", "edit");
    Bind("vera", "view");
  }
  void Bind(const std::string& user, const std::string& role) {
    Json binding = {{"apiVersion", "skiff.dev/v1"},
                    {"kind", "RoleBinding"},
                    {"metadata", {{"name", "user-" + user}, {"namespace", "team-a"}}},
                    {"spec", {{"user", user}, {"role", role}}}};
    ASSERT_TRUE(store_->Create(kRoleBindingType, binding).ok());
  }
  Status Check(const std::string& user, Verb verb, const std::string& type = "jobs.batch",
               const std::string& ns = "team-a") {
    AccessRequest request;
    request.store_type = type;
    request.namespace_ = ns;
    request.verb = verb;
    return authz_->Check(Principal{user, false}, request);
  }

  std::unique_ptr<Authorizer> authz_;
};

constexpr Verb kAllVerbs[] = {Verb::kGet,    Verb::kList,  Verb::kWatch, Verb::kCreate,
                              Verb::kUpdate, Verb::kPatch, Verb::kDelete};

TEST_F(AuthorizerTest, RoleMatrixOverEveryVerb) {
  for (Verb verb : kAllVerbs) {
    bool read = verb == Verb::kGet || verb == Verb::kList || verb == Verb::kWatch;
    SCOPED_TRACE(VerbName(verb));
    EXPECT_TRUE(Check("owner", verb).ok());
    EXPECT_TRUE(Check("alice", verb).ok());
    EXPECT_TRUE(Check("eddie", verb).ok());
    EXPECT_EQ(Check("vera", verb).ok(), read);
    Status none = Check("bob", verb);
    EXPECT_EQ(none.code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(none.message(),
              std::string("user \"bob\" may not ") + VerbName(verb) + " in namespace \"team-a\"");
    EXPECT_TRUE(authz_->Check(Principal{"root", true}, "team-a", verb).ok());
    EXPECT_TRUE(authz_->Check(Principal{"root", true}, "elsewhere", verb).ok());
  }
}

TEST_F(AuthorizerTest, OnlyAdminsManageRoleBindings) {
  for (Verb verb : kAllVerbs) {
    SCOPED_TRACE(VerbName(verb));
    EXPECT_TRUE(Check("owner", verb, kRoleBindingType).ok());
    EXPECT_TRUE(Check("alice", verb, kRoleBindingType).ok());
    EXPECT_EQ(Check("eddie", verb, kRoleBindingType).code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(Check("vera", verb, kRoleBindingType).code(), StatusCode::kPermissionDenied);
  }
}

TEST_F(AuthorizerTest, RolesDoNotReachOtherNamespacesOrAllNamespaces) {
  EXPECT_EQ(Check("alice", Verb::kGet, "jobs.batch", "team-b").code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(Check("alice", Verb::kList, "jobs.batch", "").code(), StatusCode::kPermissionDenied);
  auto role = authz_->RoleIn("vera", "team-a");
  ASSERT_TRUE(role.ok());
  EXPECT_EQ(*role, Role::kView);
}

TEST_F(AuthorizerTest, ClusterScopedKindsNeedClusterAdminWithTwoExceptions) {
  auto cluster = [&](const std::string& user, const std::string& type, Verb verb,
                     const std::string& name = "", const Json* object = nullptr) {
    AccessRequest r;
    r.store_type = type;
    r.verb = verb;
    r.name = name;
    r.object = object;
    r.cluster_scoped = true;
    return authz_->Check(Principal{user, false}, r);
  };
  for (Verb verb : kAllVerbs) {
    SCOPED_TRACE(VerbName(verb));
    EXPECT_EQ(cluster("alice", kUserType, verb, "alice").code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(cluster("alice", kApiTokenType, verb, "x").code(), StatusCode::kPermissionDenied);
  }
  Json own = {{"spec", {{"user", "alice"}}}};
  Json other = {{"spec", {{"user", "bob"}}}};
  EXPECT_TRUE(cluster("alice", kApiTokenType, Verb::kCreate, "", &own).ok());
  EXPECT_EQ(cluster("alice", kApiTokenType, Verb::kCreate, "", &other).code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(cluster("vera", kProfileType, Verb::kGet, "team-a").ok());
  EXPECT_TRUE(cluster("owner", kProfileType, Verb::kGet, "team-a").ok());
  EXPECT_EQ(cluster("bob", kProfileType, Verb::kGet, "team-a").code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(cluster("vera", kProfileType, Verb::kList).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(cluster("owner", kProfileType, Verb::kDelete, "team-a").code(),
            StatusCode::kPermissionDenied);
}

TEST_F(AuthorizerTest, UnauthenticatedPrincipalIsRefused) {
  EXPECT_EQ(authz_->Check(Principal{}, "team-a", Verb::kGet).code(), StatusCode::kUnauthenticated);
}

TEST(VerbAndRoleNamesTest, RoundTrip) {
  for (Verb verb : kAllVerbs) EXPECT_EQ(ParseVerb(VerbName(verb)), verb);
  EXPECT_EQ(ParseVerb("frobnicate"), std::nullopt);
  EXPECT_EQ(ParseRole("edit"), Role::kEdit);
  EXPECT_EQ(ParseRole("owner"), std::nullopt);
}

}  // namespace
}  // namespace skiff
