// Copyright limiterd authors.
#include "client_list.h"

#include <fmt/format.h>

#include "command_table.h"

namespace limiterd::server {

std::string ClientLine(const ClientInfo& c, int64_t now) {
  std::string name, lib_name, lib_ver;
  {
    std::lock_guard lock(c.mu);
    name = c.name;
    lib_name = c.lib_name;
    lib_ver = c.lib_ver;
  }
  const CommandSpec* cmd = c.last_command.load(std::memory_order_relaxed);
  int multi = c.multi.load(std::memory_order_relaxed);
  int64_t last = c.last_interaction_ms.load(std::memory_order_relaxed);
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 "
      "multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem={} rbs=16384 rbp=0 obl={} oll=0 omem=0 "
      "tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
      c.id, c.addr, c.laddr, c.fd, name, std::max<int64_t>(0, (now - c.created_ms) / 1000),
      std::max<int64_t>(0, (now - last) / 1000), multi >= 0 ? "x" : "N", multi,
      c.query_buffer.load(std::memory_order_relaxed), c.multi_bytes.load(std::memory_order_relaxed),
      c.output_buffer.load(std::memory_order_relaxed),
      cmd != nullptr ? std::string_view(cmd->full_name) : std::string_view("NULL"),
      c.protocol.load(std::memory_order_relaxed), lib_name, lib_ver);
}

}  // namespace limiterd::server
