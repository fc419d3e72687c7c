// Copyright limiterd authors.
// INFO's text: Redis's sections and field names (server, clients, memory,
// persistence, stats, replication, cpu, keyspace), so monitoring tools and
// clients that parse INFO keep working.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "server_state.h"

namespace limiterd::server {

// `sections`: none or "default" / "all" / "everything" -> every section;
// else the named ones (case-insensitive); unknown names add nothing.
std::string InfoText(ServerState& server, std::span<const std::string_view> sections);

}  // namespace limiterd::server
