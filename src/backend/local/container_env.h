// What a container of the local backend sees of its own: its base environment, the ports the
// backend gave it and Kubernetes' $(VAR) references in its command and args. Pure functions but
// FreeLoopbackPort and BaseEnv (which reads the server's environment).
//
//   env["SKIFF_PORT_HTTP"] = "40123";
//   std::string arg = ExpandVarRefs("--port=$(SKIFF_PORT_HTTP)", env);  // "--port=40123"
#pragma once

#include <map>
#include <string>

#include "backend/local/image_map.h"
#include "core/status.h"

namespace skiff::local {

// Kubernetes' dependent variables: `$(NAME)` becomes NAME's value from `env`; a reference to a
// name not in `env` stays as written; `$$` is one `$` (so `$$(NAME)` is the text `$(NAME)`).
std::string ExpandVarRefs(const std::string& text, const std::map<std::string, std::string>& env);

// "SKIFF_PORT_HTTP" for port "http", "SKIFF_PORT_8080" for an unnamed 8080: upper case, every
// character but [A-Z0-9] as '_'.
std::string PortEnvName(const std::string& port_name);

// The environment every container starts from: PATH, HOME and LANG of the server, the image's
// PATH additions (image_map.h) and, for a python image, its environment `venv`'s bin/ and
// VIRTUAL_ENV. A sandboxed container gets the system's PATH (the server's may name folders of
// its user that the sandbox hides) and its own /tmp as HOME.
std::map<std::string, std::string> BaseEnv(const ImageRule& rule, const std::string& venv,
                                           bool sandboxed = false);

// A TCP port on 127.0.0.1 free at the time of the call (the kernel's choice).
Result<int> FreeLoopbackPort();

}  // namespace skiff::local
