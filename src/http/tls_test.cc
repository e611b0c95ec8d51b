// HTTPS beside HTTP on one port (HttpServer::Options::tls_cert_file) and the certificates
// `skiff up` makes for it (tls_certificates.h), checked with a verifying TLS client.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/files.h"
#include "core/testing/temp_dir.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "http/tls_certificates.h"

namespace skiff {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;

struct TlsAnswer {
  std::string error;  // the TLS or HTTP error, empty when answered
  int status = 0;
  std::string body;
};

// GET `target` over TLS, trusting only `ca_file` and checking that the certificate names `host`.
TlsAnswer GetOverTls(int port, const std::string& ca_file, const std::string& host,
                     const std::string& target) {
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  beast::error_code ec;
  ctx.load_verify_file(ca_file, ec);
  if (ec) return {"loading the CA: " + ec.message()};
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(ssl::host_name_verification(host));
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  beast::get_lowest_layer(stream).connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)), ec);
  if (ec) return {"connecting: " + ec.message()};
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) return {"handshake: " + ec.message()};
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, host);
  http::write(stream, req, ec);
  if (ec) return {"writing: " + ec.message()};
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return {"reading: " + ec.message()};
  return {"", static_cast<int>(res.result_int()), res.body()};
}

class TlsTest : public ::testing::Test {
 protected:
  void StartServer(const ServingCertificate& tls) {
    HttpServer::Options options;
    options.tls_cert_file = tls.cert_file;
    options.tls_key_file = tls.key_file;
    server_ = std::make_unique<HttpServer>(options, [](HttpRequest& req, HttpResponder& r) {
      r.SendJson(200, {{"path", req.path}});
    });
    ASSERT_TRUE(server_->Start().ok());
  }

  TempDir dir_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(TlsTest, OnePortServesHttpsAndHttp) {
  auto tls = EnsureServingCertificate(dir_.path() + "/tls", {"127.0.0.1", "localhost"});
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  StartServer(*tls);
  for (const char* host : {"127.0.0.1", "localhost"}) {
    TlsAnswer a = GetOverTls(server_->port(), tls->ca_file, host, "/api?x=1");
    ASSERT_EQ(a.error, "") << host;
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(nlohmann::json::parse(a.body)["path"], "/api");
  }
  HttpClient plain("http://127.0.0.1:" + std::to_string(server_->port()));
  auto res = plain.Request("GET", "/healthz");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["path"], "/healthz");
}

TEST_F(TlsTest, AClientRefusesAHostTheCertificateDoesNotNameOrAnotherCa) {
  auto tls = EnsureServingCertificate(dir_.path() + "/tls", {"127.0.0.1"});
  ASSERT_TRUE(tls.ok());
  StartServer(*tls);
  EXPECT_NE(GetOverTls(server_->port(), tls->ca_file, "example.com", "/").error, "");
  auto other = EnsureServingCertificate(dir_.path() + "/other", {"127.0.0.1"});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(GetOverTls(server_->port(), other->ca_file, "127.0.0.1", "/").error, "");
  // The server still answers after refused handshakes.
  EXPECT_EQ(GetOverTls(server_->port(), tls->ca_file, "127.0.0.1", "/").status, 200);
}

TEST_F(TlsTest, CertificatesAreKeptAndRemadeUnderTheSameCaForNewHosts) {
  const std::string dir = dir_.path() + "/tls";
  auto first = EnsureServingCertificate(dir, {"127.0.0.1"});
  ASSERT_TRUE(first.ok());
  const std::string ca = *ReadFile(first->ca_file);
  const std::string cert = *ReadFile(first->cert_file);
  auto again = EnsureServingCertificate(dir, {"127.0.0.1"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*ReadFile(again->cert_file), cert);  // kept
  auto wider = EnsureServingCertificate(dir, {"127.0.0.1", "skiff.example"});
  ASSERT_TRUE(wider.ok());
  EXPECT_NE(*ReadFile(wider->cert_file), cert);  // remade to name the new host
  EXPECT_EQ(*ReadFile(wider->ca_file), ca);      // by the same CA
  StartServer(*wider);
  EXPECT_EQ(GetOverTls(server_->port(), first->ca_file, "skiff.example", "/").status, 200);
  // A damaged key is remade, not served.
  ASSERT_TRUE(WriteFileAtomically(dir + "/tls.key", "not a key").ok());
  auto mended = EnsureServingCertificate(dir, {"127.0.0.1"});
  ASSERT_TRUE(mended.ok());
  EXPECT_NE(ReadFile(mended->key_file)->find("PRIVATE KEY"), std::string::npos);
}

TEST(TlsStartTest, AMissingCertificateIsInvalidArgumentNamingIt) {
  HttpServer::Options options;
  options.tls_cert_file = "/nonexistent/tls.crt";
  options.tls_key_file = "/nonexistent/tls.key";
  HttpServer server(options, [](HttpRequest&, HttpResponder& r) { r.Send(200, ""); });
  Status st = server.Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("/nonexistent/tls.crt"), std::string::npos);
}

}  // namespace
}  // namespace skiff
