// Copyright limiterd authors.
#include "pipeline_prefetch.h"

#include <array>

#include "command_table.h"
#include "resp/request_parser.h"

namespace limiterd::server {

void PipelinePrefetch::PeekMore(std::string_view input, const Engine& engine) {
  std::array<std::string_view, kWindow> keys;
  size_t key_count = 0;
  const CommandTable& table = CommandTable::Get();
  // A pipeline usually repeats one command: look its name up once.
  std::string_view last_name;
  bool last_has_key = false;
  resp::PeekedCommand peeked;
  while (window_ < kWindow && resp::PeekCommand(input, &peeked)) {
    input.remove_prefix(peeked.size);
    peeked_bytes_ += peeked.size;
    ++window_;
    if (peeked.name != last_name) {
      const CommandSpec* command = table.Find(peeked.name);
      // The engine's commands (LIMIT.*, CREDITS.*, USAGE.*) name their key
      // first. One queued by MULTI is prefetched too, which is harmless.
      last_has_key = command != nullptr && command->access == DataAccess::kKeys &&
                     command->first_key == 1;
      last_name = peeked.name;
    }
    if (last_has_key && !peeked.first_arg.empty()) keys[key_count++] = peeked.first_arg;
  }
  // What cannot be peeked (an inline command, a partial one) is tried again
  // after the next command.
  if (key_count >= 2) engine.Prefetch(std::span<const std::string_view>(keys.data(), key_count));
}

}  // namespace limiterd::server
