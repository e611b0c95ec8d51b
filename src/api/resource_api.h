// ResourceApi: the generic Kubernetes-style REST API over the Store, for every kind in the
// TypeRegistry.
//
//   /apis/{group}/{version}/namespaces/{namespace}/{plural}[/{name}[/status]]   namespaced kinds
//   /api/{version}/namespaces/{namespace}/{plural}[/{name}[/status]]            the core group
//   /apis/{group}/{version}/{plural}[/{name}[/status]]                          cluster-scoped
//                                            (and, for GET of a namespaced kind: all namespaces)
//   POST create, GET get / list (labelSelector, limit, continue) / watch (?watch=true
//   [&resourceVersion=N]: newline-delimited {"type","object"} events), PUT replace (409 when
//   metadata.resourceVersion is stale), PATCH (merge patch, RFC 7386), DELETE (of the collection:
//   deletecollection, every object its labelSelector selects). ?dryRun=All on any write: admitted
//   and answered as if written, nothing stored.
//   PUT .../{name}/status replaces only the status (cluster admins only: a kind's controller
//   writes its status); PUT on the object keeps the stored status.
//   POST /apis/skiff.dev/v1/tokens:mint {"user"} -> {"token": "skf_..."}.
//
//   ResourceApi api(store, authn, authz, clock);   // the kinds of TypeRegistry::Global()
//   api.AddRoutes(router);
//
// Every write (create, replace, patch, and /status) passes Admit (core/admission.h), the one
// admission path every writer shares: identity, the platform's metadata fields, the kind's schema
// (types, required fields, enums, ranges, defaults; a null means absent) and its rules. What they
// refuse is a 422 Invalid Status naming every offending field in details.causes. Fields the
// schema does not know are pruned and reported in a `Warning` header, or refused with
// ?fieldValidation=Strict (Ignore: pruned silently), as Kubernetes does.
//
// Every handler expects req.principal to be set (ApiServer authenticates first) and asks the
// Authorizer with the namespace from the URL before touching the store, so a user without a role
// learns nothing about what exists. Bodies are JSON or YAML. Errors are Kubernetes Status JSON.
//
// Thread-safe: handlers run concurrently.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/per_user_slots.h"
#include "auth/auth.h"
#include "core/clock.h"
#include "core/managed_fields.h"
#include "core/resource.h"
#include "core/thread_annotations.h"
#include "http/http_server.h"
#include "store/store.h"

namespace skiff {

class ResourceApi {
 public:
  ResourceApi(Store& store, Authenticator& authn, Authorizer& authz, Clock& clock,
              const TypeRegistry& types = TypeRegistry::Global());

  void AddRoutes(Router& router);

  // How often an idle watch checks whether its client or the server went away.
  void set_watch_poll(std::chrono::milliseconds poll) { watch_poll_ = poll; }
  // How long a watch that asked for bookmarks (allowWatchBookmarks) stays quiet before it is
  // sent one.
  void set_bookmark_interval(std::chrono::milliseconds interval) { bookmark_interval_ = interval; }
  // Open watches allowed to one user and to everyone together (each holds a handler thread of
  // the HTTP server, 512 by default): one more is a 429 with Retry-After, so that no one user's
  // watches can make the server answer 503 to everybody.
  void set_watch_limits(int per_user, int total) { watches_.SetLimits(per_user, total); }

 private:
  struct Target;
  enum class Op { kCollection, kObject, kStatus };

  Handler Bind(Op op, bool cluster_path, bool core_group);
  void Serve(Op op, bool cluster_path, bool core_group, const HttpRequest& req, HttpResponder& r);
  Result<Target> Resolve(const HttpRequest& req, bool cluster_path, bool core_group, Op op);

  Status List(const Target& t, const HttpRequest& req, HttpResponder& r);
  Status Watch(const Target& t, const HttpRequest& req, HttpResponder& r);
  Status Get(const Target& t, const HttpRequest& req, HttpResponder& r);
  Status Create(const Target& t, Json obj, HttpResponder& r);
  Status Replace(const Target& t, Json obj, HttpResponder& r);
  Status ReplaceStatus(const Target& t, Json obj, HttpResponder& r);
  Status Patch(const Target& t, const HttpRequest& req, bool status_only, HttpResponder& r);
  Status Apply(const Target& t, const HttpRequest& req, bool status_only, HttpResponder& r);
  FieldManager ManagerOf(const Target& t, bool status) const;
  Status Delete(const Target& t, const HttpRequest& req, HttpResponder& r);
  // Deletes `existing`, or, while it has finalizers, marks it as being deleted
  // (metadata.deletionTimestamp) and leaves it to them; `expected`: a resourceVersion
  // precondition (0: none); `propagation`: the DeleteOptions' propagationPolicy (Orphan and
  // Foreground add their finalizer). Sets *marked when it only marked it.
  Result<Json> DeleteOrMark(const Target& t, const Json& existing, int64_t expected,
                            const std::string& propagation, bool* marked);
  // An update that took the last finalizer off an object being deleted ends it.
  Result<Json> FinishIfFinalized(const Target& t, Json updated);
  Status DeleteCollection(const Target& t, const HttpRequest& req, HttpResponder& r);
  void MintToken(const HttpRequest& req, HttpResponder& r);

  void AfterWrite(const Target& t, const Json& obj);

  Store& store_;
  Authenticator& authn_;
  Authorizer& authz_;
  Clock& clock_;
  const TypeRegistry& types_;
  std::chrono::milliseconds watch_poll_{250};
  std::chrono::milliseconds bookmark_interval_{15'000};

  PerUserSlots watches_{/*per_user=*/32, /*total=*/256};  // open watches
};

// Parses a request body as JSON (when declared or looking like JSON), YAML, or the Kubernetes
// protobuf encoding of the kinds core/kube_protobuf.h reads; it must be one object. Errors name
// the line.
Result<Json> ParseRequestBody(const HttpRequest& req);

}  // namespace skiff
