// Copyright limiterd authors.
#include "pipeline_prefetch.h"

#include <array>

#include "command_table.h"
#include "resp/request_parser.h"

namespace limiterd::server {

void PipelinePrefetch::PeekWindow(std::string_view input, const Engine& engine) {
  std::array<resp::PeekedCommand, kWindow> peeked;
  size_t count = 0;
  while (count < kWindow && resp::PeekCommand(input, &peeked[count])) {
    input.remove_prefix(peeked[count].size);
    ++count;
  }
  // Not peekable (an inline command, a partial one): peek again at the next.
  window_ = count;
  // One command alone has nothing to overlap with (-P 1): no lookups.
  if (count < 2) return;
  std::array<std::string_view, kWindow> keys;
  size_t key_count = 0;
  const CommandTable& table = CommandTable::Get();
  for (size_t i = 0; i < count; ++i) {
    const CommandSpec* command = table.Find(peeked[i].name);
    // The engine's commands (LIMIT.*, CREDITS.*, USAGE.*) name their key
    // first; a MULTI-queued one is peeked too, which is harmless.
    if (command == nullptr || command->access != DataAccess::kKeys || command->first_key != 1 ||
        peeked[i].first_arg.empty()) {
      continue;
    }
    keys[key_count++] = peeked[i].first_arg;
  }
  if (key_count >= 2) engine.Prefetch(std::span<const std::string_view>(keys.data(), key_count));
}

}  // namespace limiterd::server
