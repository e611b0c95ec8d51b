#include "http/http_server.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cstdint>
#include <deque>
#include <future>
#include <optional>
#include <set>
#include <thread>

#include "core/log.h"
#include "core/thread_annotations.h"

namespace skiff {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// --- HttpRequest / HttpResponder ---

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string HttpRequest::Query(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

std::string HttpRequest::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

void HttpResponder::SendJson(int status, const nlohmann::json& body, HttpHeaders headers) {
  headers.emplace("content-type", "application/json");
  Send(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
       std::move(headers));
}

// --- URL helpers ---

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool QueryFlagIsTrue(std::string_view value) {
  return value == "true" || value == "True" || value == "TRUE" || value == "t" || value == "T" ||
         value == "1";
}

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    std::replace(key.begin(), key.end(), '+', ' ');
    std::replace(value.begin(), value.end(), '+', ' ');
    out[PercentDecode(key)] = PercentDecode(value);
  }
  return out;
}

namespace {

// The request as handlers see it: method, target split into path and decoded query, headers by
// lower-case name (repeated ones joined with ", "), body. `remote` is left to the caller.
HttpRequest ToHttpRequest(http::request<http::string_body>&& msg) {
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = ParseQuery(std::string_view(req.target).substr(q + 1));
  for (const auto& field : msg) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto [it, inserted] = req.headers.emplace(name, std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  req.body = std::move(msg.body());
  return req;
}

}  // namespace

Result<HttpRequest> ParseHttpRequest(std::string_view bytes, const HttpServer::Options& options) {
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(options.body_limit);
  parser.header_limit(
      static_cast<std::uint32_t>(std::min<size_t>(options.header_limit, UINT32_MAX)));
  beast::error_code ec;
  size_t offset = 0;
  while (!parser.is_done() && offset < bytes.size()) {
    size_t used = parser.put(net::buffer(bytes.data() + offset, bytes.size() - offset), ec);
    if (ec == http::error::need_more) break;
    if (ec) return InvalidArgument("bad HTTP request: " + ec.message());
    if (used == 0) break;
    offset += used;
  }
  if (!parser.is_done()) {
    // Found by fuzzing: put_eof asserts that something was read.
    if (!parser.got_some()) return InvalidArgument("the HTTP request is empty");
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return InvalidArgument("the HTTP request ends early");
  }
  return ToHttpRequest(parser.release());
}

// --- Router ---

namespace {
std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > i) parts.emplace_back(path.substr(i, slash - i));
    i = slash + 1;
  }
  return parts;
}

bool IsParam(const std::string& seg) {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}
bool IsRest(const std::string& seg) {
  return IsParam(seg) && seg.size() > 5 && seg.compare(seg.size() - 4, 4, "...}") == 0;
}

// Matches `segments` (pattern) against `parts` (path); fills params and a rank vector where
// literal segments score 2, params 1, a rest param 0.
bool MatchPattern(const std::vector<std::string>& segments, const std::vector<std::string>& parts,
                  std::map<std::string, std::string>* params, std::vector<int>* rank) {
  params->clear();
  rank->clear();
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& seg = segments[i];
    if (IsRest(seg)) {
      if (i >= parts.size()) return false;
      std::string rest;
      for (size_t j = i; j < parts.size(); ++j) {
        if (!rest.empty()) rest += "/";
        rest += PercentDecode(parts[j]);
      }
      (*params)[seg.substr(1, seg.size() - 5)] = rest;
      rank->push_back(0);
      return true;
    }
    if (i >= parts.size()) return false;
    if (IsParam(seg)) {
      (*params)[seg.substr(1, seg.size() - 2)] = PercentDecode(parts[i]);
      rank->push_back(1);
    } else {
      if (seg != parts[i]) return false;
      rank->push_back(2);
    }
  }
  return segments.size() == parts.size();
}
}  // namespace

void Router::Add(const std::string& method, const std::string& pattern, Handler handler,
                 bool requires_auth) {
  Route route;
  route.method = method;
  route.pattern = pattern;
  route.handler = std::move(handler);
  route.requires_auth = requires_auth;
  route.segments = SplitPath(pattern);
  routes_.push_back(std::move(route));
}

Router::Match Router::Find(const std::string& method, const std::string& path) const {
  Match best;
  std::vector<int> best_rank;
  std::vector<int> rank;
  std::map<std::string, std::string> params;
  std::vector<std::string> parts = SplitPath(path);
  std::set<std::string> allowed;
  for (const Route& route : routes_) {
    if (!MatchPattern(route.segments, parts, &params, &rank)) continue;
    if (route.method != method) {
      allowed.insert(route.method);
      continue;
    }
    if (best.route == nullptr || rank > best_rank) {
      best.route = &route;
      best.params = params;
      best_rank = rank;
    }
  }
  if (best.route == nullptr) best.allowed_methods.assign(allowed.begin(), allowed.end());
  return best;
}

void Router::Dispatch(HttpRequest& req, HttpResponder& responder) const {
  Match match = Find(req.method, req.path);
  if (match.route == nullptr) {
    if (match.allowed_methods.empty()) {
      responder.SendJson(404, {{"kind", "Status"},
                               {"apiVersion", "v1"},
                               {"status", "Failure"},
                               {"message", "no route for path \"" + req.path + "\""},
                               {"reason", "NotFound"},
                               {"code", 404}});
    } else {
      std::string allow;
      for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
      responder.SendJson(405,
                         {{"kind", "Status"},
                          {"apiVersion", "v1"},
                          {"status", "Failure"},
                          {"message", "method " + req.method + " is not allowed on \"" + req.path +
                                          "\" (allowed: " + allow + ")"},
                          {"reason", "MethodNotAllowed"},
                          {"code", 405}},
                         {{"allow", allow}});
    }
    return;
  }
  req.route = match.route->pattern;
  req.params = std::move(match.params);
  match.route->handler(req, responder);
}

// --- worker pool ---

namespace {

// Runs tasks on threads that are started on demand (up to `max_threads`) and kept until Stop(),
// so a blocking handler (a watch) never starves the others.
class WorkerPool {
 public:
  explicit WorkerPool(int max_threads) : max_threads_(max_threads) {}
  ~WorkerPool() { Stop(); }

  // False when stopping or every thread is busy and no more may be started.
  bool Submit(std::function<void()> task) {
    MutexLock lock(&mu_);
    if (stopping_) return false;
    if (static_cast<size_t>(idle_) > queue_.size()) {
      queue_.push_back(std::move(task));
      work_.Signal();
      return true;
    }
    if (static_cast<int>(threads_.size()) >= max_threads_) return false;
    queue_.push_back(std::move(task));
    threads_.emplace_back([this] { Loop(); });
    return true;
  }

  // Runs what is queued, then joins every thread.
  void Stop() {
    std::vector<std::thread> threads;
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      threads.swap(threads_);
    }
    work_.SignalAll();
    for (auto& t : threads) t.join();
  }

 private:
  void Loop() EXCLUDES(mu_) {
    mu_.Lock();
    while (true) {
      if (!queue_.empty()) {
        std::function<void()> task = std::move(queue_.front());
        queue_.pop_front();
        mu_.Unlock();
        task();
        mu_.Lock();
        continue;
      }
      if (stopping_) break;
      idle_++;
      work_.Wait(mu_);
      idle_--;
    }
    mu_.Unlock();
  }

  const int max_threads_;
  Mutex mu_;
  CondVar work_;  // a task was queued, or Stop
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  std::vector<std::thread> threads_ GUARDED_BY(mu_);
  int idle_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
};

// What the server keeps of each connection, whatever its stream: a way to close it at shutdown.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Closes the socket from any thread.
  virtual void Close() = 0;
};

}  // namespace

// --- server implementation ---

class HttpServer::Impl {
 public:
  Impl(Options options, RequestHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        acceptor_(net::make_strand(ioc_)),
        work_(net::make_work_guard(ioc_)),
        pool_(options_.max_workers) {}

  Status Start(int* bound_port);
  void Shutdown();
  Status LoadTls();

  bool shutting_down() const { return shutting_down_.load(); }
  const Options& options() const { return options_; }
  // The TLS context when the server serves HTTPS too (Options::tls_cert_file), else null.
  net::ssl::context* tls() { return tls_.get(); }

  // Called on a connection's strand with a complete request.
  bool Submit(std::function<void()> task) { return pool_.Submit(std::move(task)); }
  void RunHandler(HttpRequest& req, HttpResponder& responder) { handler_(req, responder); }
  void BeginRequest() {
    MutexLock lock(&mu_);
    active_requests_++;
  }
  void EndRequest() {
    MutexLock lock(&mu_);
    active_requests_--;
    idle_.SignalAll();
  }
  void AddConnection(const std::shared_ptr<ConnectionBase>& c) {
    MutexLock lock(&mu_);
    connections_.push_back(c);
    // Forget connections that are gone, now and then.
    if (connections_.size() > 64 && connections_.size() % 64 == 0) {
      connections_.erase(std::remove_if(connections_.begin(), connections_.end(),
                                        [](const auto& w) { return w.expired(); }),
                         connections_.end());
    }
  }

 private:
  void DoAccept();
  // Starts serving an accepted socket: as plain HTTP, or first finds out whether the client
  // speaks TLS when the server serves HTTPS too.
  void Serve(tcp::socket socket);
  void CloseAllConnections();

  const Options options_;
  RequestHandler handler_;
  net::io_context ioc_;
  std::unique_ptr<net::ssl::context> tls_;  // set by Start when serving HTTPS
  tcp::acceptor acceptor_;  // on a strand: accepts and the close at shutdown never overlap
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> io_threads_;
  WorkerPool pool_;
  std::atomic<bool> shutting_down_{false};
  bool started_ = false;
  bool stopped_ = false;

  Mutex mu_;
  CondVar idle_;  // active_requests_ went down
  int active_requests_ GUARDED_BY(mu_) = 0;
  std::vector<std::weak_ptr<ConnectionBase>> connections_ GUARDED_BY(mu_);
};

namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection over `Stream` (PlainStream or TlsStream): reads requests one at a time
// (keep-alive), hands each to the worker pool and writes what the handler answers. Everything
// touching the socket runs on the strand.
template <typename Stream>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  // `buffer` holds what was read from the socket before (the bytes that told TLS from HTTP).
  Connection(Stream&& stream, beast::flat_buffer&& buffer, std::string remote,
             HttpServer::Impl* server)
      : stream_(std::move(stream)),
        server_(server),
        buffer_(std::move(buffer)),
        remote_(std::move(remote)) {}

  void Start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        self->Lowest().expires_after(std::chrono::seconds(30));
        self->stream_.async_handshake(net::ssl::stream_base::server, self->buffer_.data(),
                                      [self](beast::error_code ec, size_t used) {
                                        if (ec) return self->CloseNow();
                                        self->buffer_.consume(used);
                                        self->ReadHeader();
                                      });
      } else {
        self->ReadHeader();
      }
    });
  }

  void Close() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->CloseNow(); });
  }

  bool client_gone() const { return client_gone_.load(); }
  Stream& stream() { return stream_; }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }
  HttpServer::Impl* server() { return server_; }
  auto executor() { return stream_.get_executor(); }

  // After a whole response was written (on the strand).
  void AfterResponse(beast::error_code ec, bool keep_alive) {
    if (ec || !keep_alive || server_->shutting_down()) {
      CloseNow();
      return;
    }
    ReadHeader();
  }

  // Streaming: notices when the client goes away while we are not reading requests.
  void WatchForClose() {
    stream_.async_read_some(net::buffer(probe_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                self->client_gone_ = true;
                                return;
                              }
                              self->WatchForClose();
                            });
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    client_gone_ = true;
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().socket().close(ec);
  }

  // For streamed responses: the header and its serializer live here until the stream ends.
  http::response<http::empty_body> stream_header;
  std::optional<http::response_serializer<http::empty_body>> stream_serializer;

 private:
  void ReadHeader() {
    if (closed_) return;
    parser_.emplace();
    parser_->body_limit(server_->options().body_limit);
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<size_t>(server_->options().header_limit, UINT32_MAX)));
    Lowest().expires_after(std::chrono::seconds(120));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == http::error::body_limit) return RejectTooLarge();
    if (ec == http::error::header_limit) return RejectHeaderTooLarge();
    if (ec) return CloseNow();
    auto& msg = parser_->get();
    auto expect = msg[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     msg.version());
      http::async_write(stream_, *cont,
                        [self = this->shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return self->CloseNow();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
  }

  void RejectTooLarge() {
    Reject(http::status::payload_too_large, "RequestEntityTooLarge",
           "request body larger than " + std::to_string(server_->options().body_limit) + " bytes");
  }

  // The request line and headers passed header_limit before their end: 414 when the request line
  // itself did not end within it (a long URL; the parser has no target yet), else 431.
  void RejectHeaderTooLarge() {
    const std::string limit = std::to_string(server_->options().header_limit);
    if (parser_->get().target().empty()) {
      return Reject(http::status::uri_too_long, "RequestURITooLong",
                    "request line longer than " + limit + " bytes");
    }
    Reject(http::status::request_header_fields_too_large, "RequestHeaderFieldsTooLarge",
           "request line and headers larger than " + limit + " bytes");
  }

  // An error answer as a Status JSON, then a lingering close so the client reads the answer
  // instead of a reset.
  void Reject(http::status status, const std::string& reason, const std::string& message) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::content_type, "application/json");
    res->keep_alive(false);
    res->body() = nlohmann::json{{"kind", "Status"},    {"apiVersion", "v1"},
                                 {"status", "Failure"}, {"message", message},
                                 {"reason", reason},    {"code", static_cast<int>(status)}}
                      .dump() +
                  "\n";
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code, size_t) {
                        beast::error_code ignored;
                        self->Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
                        self->Lowest().expires_after(std::chrono::seconds(2));
                        self->Drain();
                      });
  }

  void Drain() {
    stream_.async_read_some(net::buffer(probe_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->CloseNow();
                              self->Drain();
                            });
  }

  void OnRequest(beast::error_code ec);

  Stream stream_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  char probe_[512];
  bool closed_ = false;
  std::atomic<bool> client_gone_{false};
};

// Answers one request from a worker thread; every socket operation is posted to the strand and
// waited for.
template <typename Stream>
class ConnectionResponder : public HttpResponder {
 public:
  ConnectionResponder(std::shared_ptr<Connection<Stream>> conn, unsigned version, bool keep_alive)
      : conn_(std::move(conn)), version_(version), keep_alive_(keep_alive) {}

  void Send(int status, std::string body, HttpHeaders headers) override {
    if (state_ != State::kNone) {
      LogWarn("http handler answered twice", {{"status", std::to_string(status)}});
      return;
    }
    state_ = State::kSent;
    status_ = status;
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), version_);
    bool has_type = false;
    for (auto& [name, value] : headers) {
      if (name == "content-type") has_type = true;
      res->set(name, value);
    }
    if (!has_type) res->set(http::field::content_type, "application/json");
    res->keep_alive(keep_alive_ && !conn_->server()->shutting_down());
    res->body() = std::move(body);
    res->prepare_payload();
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    net::post(conn_->executor(), [conn = conn_, res, done] {
      http::async_write(conn->stream(), *res, [conn, res, done](beast::error_code ec, size_t) {
        done->set_value();
        conn->AfterResponse(ec, res->keep_alive());
      });
    });
    future.wait();
  }

  bool StartStream(int status, HttpHeaders headers) override {
    if (state_ != State::kNone) return false;
    state_ = State::kStreaming;
    status_ = status;
    auto& res = conn_->stream_header;
    res = http::response<http::empty_body>(static_cast<http::status>(status), version_);
    bool has_type = false;
    for (auto& [name, value] : headers) {
      if (name == "content-type") has_type = true;
      res.set(name, value);
    }
    if (!has_type) res.set(http::field::content_type, "application/json");
    res.keep_alive(false);
    res.chunked(true);
    auto ec = RunOnStrand([](Connection<Stream>& c, auto done) {
      c.Lowest().expires_never();
      c.stream_serializer.emplace(c.stream_header);
      http::async_write_header(c.stream(), *c.stream_serializer,
                               [done](beast::error_code ec, size_t) { done(ec); });
    });
    if (ec) return false;
    net::post(conn_->executor(), [conn = conn_] { conn->WatchForClose(); });
    return !Cancelled();
  }

  bool Write(std::string_view chunk) override {
    if (state_ != State::kStreaming || Cancelled()) return false;
    if (chunk.empty()) return true;
    auto data = std::make_shared<std::string>(chunk);
    auto ec = RunOnStrand([data](Connection<Stream>& c, auto done) {
      auto body = std::make_shared<http::chunk_body<net::const_buffer>>(
          net::const_buffer(data->data(), data->size()));
      net::async_write(c.stream(), *body,
                       [done, body, data](beast::error_code ec, size_t) { done(ec); });
    });
    return !ec && !Cancelled();
  }

  void End() override {
    if (state_ != State::kStreaming) return;
    state_ = State::kEnded;
    if (!conn_->client_gone()) {
      RunOnStrand([](Connection<Stream>& c, auto done) {
        auto last = std::make_shared<http::chunk_last<http::chunk_crlf>>(http::make_chunk_last());
        net::async_write(c.stream(), *last,
                         [done, last](beast::error_code ec, size_t) { done(ec); });
      });
    }
    net::post(conn_->executor(), [conn = conn_] { conn->CloseNow(); });
  }

  bool Cancelled() const override {
    return conn_->client_gone() || conn_->server()->shutting_down();
  }

  // After the handler returned: answers what it left unanswered.
  void Finish() {
    if (state_ == State::kNone) {
      Send(500,
           nlohmann::json{{"kind", "Status"},
                          {"apiVersion", "v1"},
                          {"status", "Failure"},
                          {"message", "the handler sent no response"},
                          {"reason", "InternalError"},
                          {"code", 500}}
               .dump(),
           {});
    } else if (state_ == State::kStreaming) {
      End();
    }
  }

 private:
  enum class State { kNone, kSent, kStreaming, kEnded };

  // Runs `op(connection, done)` on the strand and waits until it calls done(ec).
  template <typename Op>
  beast::error_code RunOnStrand(Op op) {
    auto promise = std::make_shared<std::promise<beast::error_code>>();
    auto future = promise->get_future();
    net::post(conn_->executor(), [conn = conn_, promise, op]() mutable {
      op(*conn, [promise](beast::error_code ec) { promise->set_value(ec); });
    });
    return future.get();
  }

  std::shared_ptr<Connection<Stream>> conn_;
  unsigned version_;
  bool keep_alive_;
  State state_ = State::kNone;
};

template <typename Stream>
void Connection<Stream>::OnRequest(beast::error_code ec) {
  if (ec == http::error::body_limit) return RejectTooLarge();
  if (ec) return CloseNow();
  http::request<http::string_body> msg = parser_->release();
  parser_.reset();

  const unsigned version = msg.version();
  const bool keep_alive = msg.keep_alive();
  auto req = std::make_shared<HttpRequest>(ToHttpRequest(std::move(msg)));
  req->remote = remote_;

  // While the handler runs nothing is read, so idle timeouts do not apply.
  Lowest().expires_never();
  auto responder =
      std::make_shared<ConnectionResponder<Stream>>(this->shared_from_this(), version, keep_alive);
  HttpServer::Impl* server = server_;
  server->BeginRequest();
  bool submitted = server->Submit([server, req, responder] {
    server->RunHandler(*req, *responder);
    responder->Finish();
    server->EndRequest();
  });
  if (!submitted) {
    server->EndRequest();
    auto res = std::make_shared<http::response<http::string_body>>(
        http::status::service_unavailable, version);
    res->set(http::field::content_type, "application/json");
    res->keep_alive(false);
    res->body() = nlohmann::json{{"kind", "Status"},
                                 {"apiVersion", "v1"},
                                 {"status", "Failure"},
                                 {"message", server->shutting_down() ? "the server is shutting down"
                                                                     : "the server is too busy"},
                                 {"reason", "ServiceUnavailable"},
                                 {"code", 503}}
                      .dump() +
                  "\n";
    res->prepare_payload();
    http::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res](beast::error_code, size_t) { self->CloseNow(); });
  }
}

// Reads the first bytes of a connection to HTTPS server and hands it on as TLS (a handshake
// record) or plain HTTP, with the bytes read.
class Detector : public std::enable_shared_from_this<Detector> {
 public:
  Detector(tcp::socket&& socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {}

  void Run() {
    stream_.expires_after(std::chrono::seconds(30));
    beast::async_detect_ssl(stream_, buffer_,
                            [self = shared_from_this()](beast::error_code ec, bool tls) {
                              if (ec) {
                                beast::error_code ignored;
                                self->stream_.socket().close(ignored);
                                return;
                              }
                              self->HandOn(tls);
                            });
  }

 private:
  void HandOn(bool tls);

  beast::tcp_stream stream_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
};

std::string RemoteOf(tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? "" : ep.address().to_string() + ":" + std::to_string(ep.port());
}

template <typename Stream>
void StartConnection(Stream stream, beast::flat_buffer buffer, HttpServer::Impl* server) {
  std::string remote = RemoteOf(beast::get_lowest_layer(stream).socket());
  auto conn = std::make_shared<Connection<Stream>>(std::move(stream), std::move(buffer),
                                                   std::move(remote), server);
  server->AddConnection(conn);
  conn->Start();
}

void Detector::HandOn(bool tls) {
  if (server_->shutting_down()) return;
  if (tls) {
    StartConnection(TlsStream(std::move(stream_), *server_->tls()), std::move(buffer_), server_);
  } else {
    StartConnection(std::move(stream_), std::move(buffer_), server_);
  }
}

}  // namespace

Status HttpServer::Impl::LoadTls() {
  auto tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  beast::error_code ec;
  tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use,
                   ec);
  if (!ec) tls->use_certificate_chain_file(options_.tls_cert_file, ec);
  if (ec) {
    return InvalidArgument("http server: cannot use the certificate " + options_.tls_cert_file +
                           ": " + ec.message());
  }
  tls->use_private_key_file(options_.tls_key_file, net::ssl::context::pem, ec);
  if (ec) {
    return InvalidArgument("http server: cannot use the key " + options_.tls_key_file + ": " +
                           ec.message());
  }
  tls_ = std::move(tls);
  return Status::Ok();
}

Status HttpServer::Impl::Start(int* bound_port) {
  if (started_) return FailedPrecondition("http server already started");
  beast::error_code ec;
  auto address = net::ip::make_address(options_.address, ec);
  if (ec) return InvalidArgument("http server: bad address \"" + options_.address + "\"");
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    RETURN_IF_ERROR(LoadTls());
  }
  tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  std::string where = options_.address + ":" + std::to_string(options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("http server: cannot listen on " + where + ": " + ec.message());
  *bound_port = acceptor_.local_endpoint().port();
  started_ = true;
  DoAccept();
  int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) io_threads_.emplace_back([this] { ioc_.run(); });
  return Status::Ok();
}

void HttpServer::Impl::DoAccept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor_.is_open() || shutting_down_) return;
      LogWarn("http accept failed", {{"error", ec.message()}});
    } else if (!shutting_down_) {
      Serve(std::move(socket));
    }
    DoAccept();
  });
}

void HttpServer::Impl::Serve(tcp::socket socket) {
  if (tls_ == nullptr) {
    StartConnection(beast::tcp_stream(std::move(socket)), beast::flat_buffer(), this);
  } else {
    std::make_shared<Detector>(std::move(socket), this)->Run();
  }
}

void HttpServer::Impl::CloseAllConnections() {
  std::vector<std::shared_ptr<ConnectionBase>> live;
  {
    MutexLock lock(&mu_);
    for (auto& w : connections_) {
      if (auto c = w.lock()) live.push_back(std::move(c));
    }
    connections_.clear();
  }
  for (auto& c : live) c->Close();
}

void HttpServer::Impl::Shutdown() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  shutting_down_ = true;
  {
    std::promise<void> closed;
    net::post(acceptor_.get_executor(), [this, &closed] {
      beast::error_code ec;
      acceptor_.close(ec);
      closed.set_value();
    });
    closed.get_future().wait();
  }
  {
    MutexLock lock(&mu_);
    idle_.WaitFor(mu_, options_.shutdown_grace, [this] {
      mu_.AssertHeld();
      return active_requests_ == 0;
    });
  }
  // Whatever still runs is cut off: its sockets close, so its writes fail and it returns.
  CloseAllConnections();
  {
    MutexLock lock(&mu_);
    idle_.Wait(mu_, [this] {
      mu_.AssertHeld();
      return active_requests_ == 0;
    });
  }
  pool_.Stop();
  work_.reset();
  ioc_.stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
}

HttpServer::HttpServer(Options options, RequestHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Shutdown(); }

Status HttpServer::Start() {
  int port = 0;
  RETURN_IF_ERROR(impl_->Start(&port));
  port_ = port;
  return Status::Ok();
}

void HttpServer::Shutdown() { impl_->Shutdown(); }

}  // namespace skiff
