// Copyright limiterd authors.
// CLIENT LIST / CLIENT INFO lines, in Redis 7.2's format.
#pragma once

#include <string>

#include "server_state.h"

namespace limiterd::server {

// "id=3 addr=... resp=2 lib-name= lib-ver=\n"
std::string ClientLine(const ClientInfo& client, int64_t now_steady_ms);

}  // namespace limiterd::server
