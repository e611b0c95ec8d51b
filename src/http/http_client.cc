#include "http/http_client.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <optional>

namespace skiff {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string HttpResult::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

namespace {

// Splits "http://host:port/rest" into its parts; the port defaults to 80.
bool SplitUrl(const std::string& url, std::string* host, std::string* port, std::string* target) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) return false;
  size_t start = scheme.size();
  size_t slash = url.find('/', start);
  std::string authority =
      url.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
  *target = slash == std::string::npos ? "/" : url.substr(slash);
  size_t colon = authority.rfind(':');
  if (colon == std::string::npos) {
    *host = authority;
    *port = "80";
  } else {
    *host = authority.substr(0, colon);
    *port = authority.substr(colon + 1);
  }
  return !host->empty() && !port->empty();
}

template <typename Body>
HttpHeaders CollectHeaders(const http::response<Body>& res) {
  HttpHeaders headers;
  for (const auto& field : res) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto [it, inserted] = headers.emplace(name, std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  return headers;
}

}  // namespace

// One connection and the io_context its operations run on. Operations are asynchronous with a
// deadline, run to completion right away, so the client is synchronous with timeouts.
class HttpClient::Conn {
 public:
  Conn() : stream(ioc) {}

  template <typename Start>
  beast::error_code Run(Start start) {
    beast::error_code result = net::error::would_block;
    start([&result](beast::error_code ec, size_t) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  void Close() {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
    open = false;
    buffer.clear();
  }

  net::io_context ioc;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bool open = false;
};

HttpClient::HttpClient(const std::string& base_url, Options options) : options_(options) {
  std::string target;
  if (!SplitUrl(base_url, &host_, &port_, &target)) {
    // Kept as given; every request then fails with a message naming it.
    host_ = base_url;
    port_.clear();
  }
}

HttpClient::~HttpClient() {
  if (conn_ && conn_->open) conn_->Close();
}

Status HttpClient::Connect(Conn& conn, const std::string& what) {
  if (port_.empty()) return InvalidArgument(what + ": not an http://host:port URL");
  tcp::resolver resolver(conn.ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host_, port_, ec);
  if (ec) return Unavailable(what + ": cannot resolve " + host_ + ": " + ec.message());
  conn.stream.expires_after(options_.timeout);
  ec = conn.Run([&](auto done) {
    conn.stream.async_connect(endpoints,
                              [done](beast::error_code ec, const tcp::endpoint&) { done(ec, 0); });
  });
  if (ec) {
    conn.Close();
    return Unavailable(what + ": cannot connect to " + host_ + ":" + port_ + ": " + ec.message());
  }
  conn.open = true;
  return Status::Ok();
}

Result<HttpResult> HttpClient::Request(const std::string& method, const std::string& target,
                                       const HttpHeaders& headers, const std::string& body) {
  std::string what = method + " http://" + host_ + ":" + port_ + target;
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) return InvalidArgument(what + ": unknown method");
  if (!conn_) conn_ = std::make_unique<Conn>();

  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, host_ + ":" + port_);
  req.set(http::field::user_agent, "skiff");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty() && req[http::field::content_type].empty()) {
    req.set(http::field::content_type, "application/json");
  }
  req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();

  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = conn_->open;
    if (!conn_->open) {
      RETURN_IF_ERROR(Connect(*conn_, what));
      connections_opened_++;
    }
    conn_->stream.expires_after(options_.timeout);
    beast::error_code ec =
        conn_->Run([&](auto done) { http::async_write(conn_->stream, req, done); });
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    if (!ec) {
      ec = conn_->Run(
          [&](auto done) { http::async_read(conn_->stream, conn_->buffer, parser, done); });
    }
    if (ec) {
      conn_->Close();
      // A kept-alive connection the server closed meanwhile: try once on a fresh one.
      bool stale = ec == http::error::end_of_stream || ec == net::error::connection_reset ||
                   ec == net::error::broken_pipe || ec == net::error::eof;
      if (reused && stale) continue;
      if (ec == beast::error::timeout) return DeadlineExceeded(what + ": timed out");
      return Unavailable(what + ": " + ec.message());
    }
    auto res = parser.release();
    HttpResult result;
    result.status = res.result_int();
    result.headers = CollectHeaders(res);
    result.body = std::move(res.body());
    if (!res.keep_alive()) conn_->Close();
    return result;
  }
  return Unavailable(what + ": connection closed");
}

Result<HttpResult> HttpClient::StreamLines(
    const std::string& target, const HttpHeaders& headers,
    const std::function<bool(std::string_view line)>& on_line) {
  std::string what = "GET http://" + host_ + ":" + port_ + target;
  Conn conn;
  RETURN_IF_ERROR(Connect(conn, what));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host_ + ":" + port_);
  req.set(http::field::user_agent, "skiff");
  for (const auto& [name, value] : headers) req.set(name, value);
  conn.stream.expires_after(options_.timeout);
  beast::error_code ec = conn.Run([&](auto done) { http::async_write(conn.stream, req, done); });
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  if (!ec) {
    ec = conn.Run(
        [&](auto done) { http::async_read_header(conn.stream, conn.buffer, parser, done); });
  }
  if (ec) {
    conn.Close();
    return Unavailable(what + ": " + ec.message());
  }
  HttpResult result;
  result.status = parser.get().result_int();
  result.headers = CollectHeaders(parser.get());
  bool streaming = result.status >= 200 && result.status < 300;
  conn.stream.expires_never();

  std::string pending;
  char buf[8192];
  while (!parser.is_done()) {
    parser.get().body().data = buf;
    parser.get().body().size = sizeof(buf);
    ec =
        conn.Run([&](auto done) { http::async_read_some(conn.stream, conn.buffer, parser, done); });
    if (ec == http::error::need_buffer) ec = {};
    size_t got = sizeof(buf) - parser.get().body().size;
    if (ec) {
      conn.Close();
      return Unavailable(what + ": stream broken: " + ec.message());
    }
    if (!streaming) {
      result.body.append(buf, got);
      continue;
    }
    pending.append(buf, got);
    size_t start = 0;
    size_t nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      std::string_view line(pending.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!on_line(line)) {
        conn.Close();
        return result;
      }
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (streaming && !pending.empty()) on_line(pending);
  conn.Close();
  return result;
}

Result<HttpResult> HttpFetch(const std::string& method, const std::string& url,
                             const HttpHeaders& headers, const std::string& body) {
  std::string host;
  std::string port;
  std::string target;
  if (!SplitUrl(url, &host, &port, &target)) {
    return InvalidArgument("\"" + url + "\" is not an http://host:port/path URL");
  }
  HttpClient client("http://" + host + ":" + port);
  return client.Request(method, target, headers, body);
}

}  // namespace skiff
