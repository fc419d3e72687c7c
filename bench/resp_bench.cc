// Copyright limiterd authors.
// RESP throughput: parsing a pipeline of typical CREDITS.CONSUME requests
// (multibulk as clients send them, and inline), a large bulk arriving in
// small reads, and writing the typical 6-element consume reply.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "resp/reply_writer.h"
#include "resp/request_parser.h"

namespace limiterd::resp {
namespace {

constexpr int kPipelineDepth = 64;

std::string Repeat(std::string_view request, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out.append(request);
  return out;
}

// Parses every request of `pipeline`; returns the number of commands.
int64_t ParseAll(RequestParser& parser, std::string_view pipeline) {
  int64_t commands = 0;
  while (parser.Parse(pipeline) == ParseStatus::kCommand) {
    benchmark::DoNotOptimize(parser.args().data());
    pipeline.remove_prefix(parser.consumed());
    ++commands;
  }
  return commands;
}

void RunParse(benchmark::State& state, std::string_view request) {
  const std::string pipeline = Repeat(request, kPipelineDepth);
  RequestParser parser;
  int64_t commands = 0;
  for (auto _ : state) commands += ParseAll(parser, pipeline);
  if (commands != state.iterations() * kPipelineDepth) state.SkipWithError("parse failed");
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(pipeline.size()));
  state.SetItemsProcessed(commands);
}

void BM_ParseMultibulkConsume(benchmark::State& state) {
  RunParse(state,
           "*3\r\n$15\r\nCREDITS.CONSUME\r\n$28\r\norg:acme/project:web/user:42\r\n$1\r\n1\r\n");
}
BENCHMARK(BM_ParseMultibulkConsume);

void BM_ParseInlineConsume(benchmark::State& state) {
  RunParse(state, "CREDITS.CONSUME org:acme/project:web/user:42 1\r\n");
}
BENCHMARK(BM_ParseInlineConsume);

// A 1 MB bulk arriving in reads of state.range(0) bytes: the cost per byte
// stays flat because the parser resumes instead of re-reading.
void BM_ParseLargeBulkInReads(benchmark::State& state) {
  const size_t read_size = static_cast<size_t>(state.range(0));
  const std::string payload(1 << 20, 'v');
  const std::string request = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(payload.size()) +
                              "\r\n" + payload + "\r\n";
  const std::string_view all = request;
  RequestParser parser;
  for (auto _ : state) {
    size_t have = 0;
    ParseStatus status = ParseStatus::kNeedMore;
    while (status == ParseStatus::kNeedMore) {
      have = std::min(all.size(), have + read_size);
      status = parser.Parse(all.substr(0, have));
    }
    if (status != ParseStatus::kCommand) state.SkipWithError("parse failed");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(request.size()));
}
BENCHMARK(BM_ParseLargeBulkInReads)->Arg(1024)->Arg(16 * 1024);

// A CREDITS.CONSUME reply as bench/compare.sh's workload gets it: a hard
// limit of 10^15, so two of its integers have 15 and 16 digits.
template <typename Out>
void WriteConsumeReply(Out& out) {
  out.Array(6);
  out.Integer(1);
  out.Integer(999999999987654);
  out.Integer(1000000000000000);
  out.Integer(0);
  out.Integer(86400000);
  out.Bulk("org:000000000001000000000002/project:000000000003/user:000000000004000000000005");
}

// Arguments: the protocol; 0 for ReplyWriter's methods, 1 for
// ReplyWriter::Parts (one append a reply, as the server writes it).
void BM_WriteConsumeReply(benchmark::State& state) {
  std::string out;
  ReplyWriter writer(&out, static_cast<int>(state.range(0)));
  const bool parts = state.range(1) != 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    for (int i = 0; i < kPipelineDepth; ++i) {
      if (parts) {
        ReplyWriter::Parts staged(writer);
        WriteConsumeReply(staged);
      } else {
        WriteConsumeReply(writer);
      }
    }
    bytes += static_cast<int64_t>(out.size());
    benchmark::DoNotOptimize(out.data());
    out.clear();  // keeps the capacity, as a connection's buffer does
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(state.iterations() * kPipelineDepth);
}
BENCHMARK(BM_WriteConsumeReply)->Args({2, 0})->Args({2, 1})->Args({3, 1});

}  // namespace
}  // namespace limiterd::resp

BENCHMARK_MAIN();
