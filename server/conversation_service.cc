#include "server/conversation_service.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "server/grpc_status.h"
#include "server/proto_convert.h"
#include "spdlog/spdlog.h"

namespace convgen {
namespace {

using Clock = std::chrono::steady_clock;

// Executor threads run 5 nice steps below gRPC's, so that health checks and
// new connections are answered at once while builds keep the cores busy.
constexpr int kWorkerNice = 5;

// How long the trailers of a stalled stream may wait for its client to read
// before the call is cancelled (a client that resumes reading within it gets
// the status and its resume index; one that does not gets CANCELLED).
constexpr Clock::duration kStallGrace = std::chrono::seconds(5);
// How long a batching stream's events may wait for more while no write is
// in flight: one message per event costs ~17 us of server CPU and a thread
// handoff, while 64 KiB of small conversations take ~0.5 ms to make. Before
// a conversation is built, waiting events go out if the build may take
// kSlowBuild or more (its planned tokens at the last build's time per
// token). Nothing waits before the stream's first turn is out.
constexpr Clock::duration kCoalesce = std::chrono::milliseconds(2);
constexpr Clock::duration kSlowBuild = std::chrono::microseconds(200);

// How much later than the client's deadline the server's copy may expire
// (the request's transit and queueing; see CancelledCode).
constexpr std::chrono::milliseconds kDeadlineSlack(1000);

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// gRPC and absl share the canonical codes and their names.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Where in the stream `event` is, for an error: "conversation CONV_ID_3 turn
// 1", "... start", "... end" or "the summary".
std::string EventPosition(const StreamEvent& event) {
  if (const auto* message = std::get_if<Message>(&event)) {
    return absl::StrCat("conversation ", message->conversation_id, " turn ",
                        message->message_index);
  }
  if (const auto* start = std::get_if<ConversationStart>(&event)) {
    return absl::StrCat("conversation ", start->conversation_id, " start");
  }
  if (const auto* end = std::get_if<ConversationEnd>(&event)) {
    return absl::StrCat("conversation ", end->conversation_id, " end");
  }
  return "the summary";
}

// The bytes of a GenerateResponse `batch` whose EventBatch holds `body`
// bytes of events (each entry: a tag, its length, the event).
size_t BatchMessageBytes(size_t body) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(body) + body;
}

// What one event of `bytes` adds to an EventBatch's body.
size_t BatchEntryBytes(size_t bytes) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(bytes) + bytes;
}

}  // namespace

// One Generate stream: refused at once, or prepared on the executor; then
// its events, made by one generator at a time and written one message at a
// time (see the threading model in the header).
//
// The generator (Prepare, then Generate: on the executor, or inline in
// OnWriteDone while the next event is cheap) owns stream_ and next_; the
// rest is under mutex_. An event made while no write is in flight is written
// at once; one made during a write joins pending_, which OnWriteDone writes
// next. pending_ holds at most one event without batching, else up to
// batch_bytes_; the event that does not fit stays in next_ (held_) and the
// generator stops until OnWriteDone restarts it. So a stream holds at most
// the message in flight, one pending batch and one event, whatever its
// reader does. pending_ may also fill while no write is in flight once the
// first message went out (coalescing, see kCoalesce); the generator writes
// it before it stops or ends.
//
// Performance notes (Release, 2 cores in a paravirtualized VM, 4 x 50-token
// conversations, the CLI asking for 64 KiB): writing pending_ whenever a
// write completed gave batches of ~2 events (0.62 -> 1.09 M tokens/s), the
// server's CPU going to thread handoffs (perf: ~45% in the kernel's
// context-switch path). Coalescing (kCoalesce; OnWriteDone leaving a
// filling batch to the generator) and a cheaper CPU-limit clock (see
// StopSignal) gave ~3.6 M tokens/s under load, ~7.6 M at load 2. Writing
// what waited 0.2 ms before every build still cut batches at ~100 events
// (6,000 messages per 100,000 conversations); writing it only after a slow
// build gives full 64 KiB batches (1,900 messages) and, with tcmalloc
// (server/CMakeLists.txt), ~10-12 M tokens/s on a quiet machine, server
// CPU ~1.6x the core's. What remains is the core, thread handoffs (~12%,
// the kernel's switch path) and protobuf.
class GenerateReactor : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  GenerateReactor(ConversationServiceImpl* service, grpc::CallbackServerContext* context,
                  const v1::GenerateRequest* request)
      : service_(service),
        context_(context),
        request_(request),
        start_(Clock::now()),
        stop_(service->limits_.max_build_cpu_seconds) {
    service_->metrics_->RpcStarted("Generate");
    ++service_->active_streams_;
    service_->metrics_->active_streams().Increment();
    service_->AddStream(this);
  }

  // Refuses the call, or hands its preparation to the executor.
  void Begin() {
    if (service_->draining_) {
      FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "this server is shutting down; retry on another replica (with "
                              "start_index to resume)"));
    } else if (service_->active_streams_ > service_->limits_.max_concurrent_streams) {
      FinishOnce(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("this server already serves ", service_->limits_.max_concurrent_streams,
                       " streams (--max-concurrent-streams); retry later or use another "
                       "replica")));
    } else {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        generating_ = true;  // Prepare is the first generator
      }
      service_->executor_.Submit([this] { Guarded([this] { Prepare(); }); });
    }
  }

  // All under one lock: the generator must not see the write done before
  // pending_ went out (it would write a later event first).
  void OnWriteDone(bool ok) override {
    bool restart = false;
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      writing_ = false;
      write_started_ = Clock::time_point();
      // The stall watchdog (or a cancel) finished the call during this write.
      if (finished_) return;
      if (!ok) {
        finish = grpc::Status(CancelledCode(), "the client went away");
      } else {
        delivered_resume_ = in_flight_resume_;
        if (first_write_) {
          first_write_ = false;
          service_->metrics_->FirstMessage(SecondsSince(start_));
        }
        service_->metrics_->MessageSent();
        if (service_->stopping_) {
          finish = StoppedStatus(delivered_resume_);
        } else if (pending_events_ > 0 && coalesce_ && generating_ && !held_ && !slow_build_ &&
                   !PendingFullLocked()) {
          // The generator goes on filling the batch, and writes it when it
          // is full or has waited kCoalesce (one thread handoff per message
          // costs more than the message); not while it is in a long build.
          coalescing_since_ = Clock::now();
        } else if (pending_events_ > 0) {
          WritePendingLocked();
          if (held_) {  // the event that did not fit starts the next batch
            held_ = false;
            AppendLocked(held_bytes_, held_resume_);
          }
          if (!generating_ && !end_) restart = generating_ = true;
        } else if (end_) {
          finish = *end_;
        } else if (!generating_) {
          restart = generating_ = true;
        }
      }
      if (finish && !ClaimFinishLocked(finish->error_code())) return;
    }
    if (finish) {
      FinishClaimed(*finish);
    } else if (restart) {
      // This thread is the generator now.
      if (stream_->NextIsReady()) {
        Guarded([this] { Generate(/*on_reaction=*/true); });
      } else {
        service_->executor_.Submit([this] { Guarded([this] { Generate(false); }); });
      }
    }
  }

  void OnCancel() override { stop_.Stop(); }

  void OnDone() override {
    // After this the watchdog no longer sees the reactor.
    service_->RemoveStream(this);
    service_->active_streams_--;
    service_->metrics_->active_streams().Decrement();
    service_->metrics_->RpcHandled("Generate", CodeName(final_code_), SecondsSince(start_));
    bool destroy;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
      // A generator still running (e.g. in a build after the watchdog
      // finished the call) deletes the reactor when it stops.
      destroy = !generating_;
    }
    if (destroy) delete this;
  }

 private:
  friend class ConversationServiceImpl;  // its watchdog calls CheckStall

  // On the watchdog thread, under the service's streams_mutex_ (so OnDone
  // waits). A write in flight for max_stall_seconds means the client stopped
  // reading: the call finishes with RESOURCE_EXHAUSTED naming the index to
  // resume from. Those trailers queue behind the stuck message, so if the
  // client still does not read within kStallGrace the call is cancelled,
  // which releases the slot and the stream's memory.
  void CheckStall(Clock::time_point now, Clock::duration limit) {
    if (stalled_at_ != Clock::time_point()) {
      if (!cancel_sent_ && now - stalled_at_ >= kStallGrace) {
        cancel_sent_ = true;
        context_->TryCancel();
      }
      return;
    }
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (write_started_ == Clock::time_point() || now - write_started_ < limit) return;
      stalled_at_ = now;
      if (finished_) return;  // its trailers are stuck too: cancel after the grace
      // Only conversations whose last write completed were delivered.
      status = grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("the client read nothing for ", service_->limits_.max_stall_seconds,
                       " s (--max-stall-seconds); resume with start_index ", delivered_resume_));
      ClaimFinishLocked(status.error_code());
    }
    stop_.Stop();  // a generator in a build stops soon
    Finish(status);
  }

  // On the executor: the request into a stream, then its events.
  void Prepare() {
    if (Cancelled()) return;
    GenerationRequest request = RequestFromProto(*request_);
    request.stop = &stop_;
    absl::StatusOr<std::unique_ptr<GenerationJob>> job =
        PrepareGeneration(*service_->workspace_, request, service_->limits_);
    if (!job.ok()) {
      FinishOnce(ToGrpcStatus(job.status()), /*generator=*/true);
      return;
    }
    absl::StatusOr<std::unique_ptr<ConversationStream>> stream = (*job)->OpenStream(&stop_);
    if (!stream.ok()) {
      FinishOnce(ToGrpcStatus(stream.status()), /*generator=*/true);
      return;
    }
    stream_ = *std::move(stream);
    batch_bytes_ = BatchBound();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      delivered_resume_ = stream_->resume_index();
    }
    Generate(/*on_reaction=*/false);
  }

  // The request's batch bound: 0 (one event per message) unless both the
  // request and the server allow batches; never over the max send size.
  int64_t BatchBound() const {
    const ServiceLimits& limits = service_->limits_;
    if (request_->max_batch_bytes() == 0 || limits.max_batch_bytes <= 0) return 0;
    int64_t bound = std::min<int64_t>(request_->max_batch_bytes(), limits.max_batch_bytes);
    if (limits.max_send_message_bytes > 0) {
      bound = std::min(bound, limits.max_send_message_bytes);
    }
    return std::min<int64_t>(bound, INT_MAX);
  }

  // The generator: makes events and hands them to the writer until the
  // stream ends, the pending batch is full or the call finished. On a
  // reaction (on_reaction) it goes on only while the next event is cheap,
  // then moves to the executor.
  void Generate(bool on_reaction) {
    while (true) {
      if (Cancelled()) return;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (finished_) return StopGeneratingLocked(lock);
        if (service_->stopping_) {
          // OnWriteDone ends a stream with a write in flight.
          if (writing_) return StopGeneratingLocked(lock);
          const grpc::Status status = StoppedStatus(delivered_resume_);
          generating_ = false;
          if (!ClaimFinishLocked(status.error_code())) return;
          lock.unlock();
          return FinishClaimed(status);
        }
        if (PendingFullLocked()) {
          if (writing_) return StopGeneratingLocked(lock);
          WritePendingLocked();
        }
      }
      const bool builds = !stream_->NextIsReady();
      const double build_tokens = builds ? stream_->NextBuildTokens() : 0;
      if (builds) {
        // What waits goes out before a build that may take long. Small
        // conversations build in microseconds, so their events gather up to
        // a full batch or kCoalesce (measured: 6,000 -> 1,900 messages for
        // 100,000 4 x 50-token conversations).
        std::lock_guard<std::mutex> lock(mutex_);
        slow_build_ = MayTakeLong(build_tokens);
        if (!writing_ && pending_events_ > 0 && slow_build_) WritePendingLocked();
      }
      if (on_reaction && builds) {
        service_->executor_.Submit([this] { Guarded([this] { Generate(false); }); });
        return;
      }
      // Every conversation ended before this event: where to resume if the
      // event cannot be sent.
      const uint64_t resume_index = stream_->resume_index();
      const Clock::time_point build_start = builds ? Clock::now() : Clock::time_point();
      absl::StatusOr<const StreamEvent*> event = stream_->Next();
      if (builds) {
        last_build_ = Clock::now() - build_start;
        last_build_tokens_ = build_tokens;
        if (slow_build_) {
          std::lock_guard<std::mutex> lock(mutex_);
          slow_build_ = false;
        }
      }
      if (!event.ok()) {
        // Core's errors name their conversation; one that does not gets the
        // conversation being built.
        grpc::Status status = ToGrpcStatus(event.status());
        if (!absl::StrContains(status.error_message(), "CONV_ID_")) {
          status = grpc::Status(status.error_code(),
                                absl::StrCat("conversation CONV_ID_", stream_->resume_index(), ": ",
                                             status.error_message()));
        }
        return EndAfterWrites(status);
      }
      if (*event == nullptr) return EndAfterWrites(grpc::Status::OK);  // after the summary
      if (std::holds_alternative<ConversationStart>(**event)) service_->conversations_generated_++;
      if (const auto* end = std::get_if<ConversationEnd>(*event)) {
        service_->metrics_->ConversationGenerated(static_cast<double>(end->num_tokens));
      }
      next_.Clear();
      EventToProto(**event, &next_);
      const size_t bytes = next_.ByteSizeLong();
      if (grpc::Status sendable = CheckSendable(**event, bytes, resume_index); !sendable.ok()) {
        return EndAfterWrites(sendable);
      }
      const uint64_t resume_after = stream_->resume_index();
      const bool turn = std::holds_alternative<Message>(**event);
      std::unique_lock<std::mutex> lock(mutex_);
      if (finished_) return StopGeneratingLocked(lock);
      // A batching stream's events before its first turn wait for it, so
      // that they and the first turn go out together at once.
      const bool first_turn = turn && !turn_made_;
      const bool before_first_turn = batch_bytes_ > 0 && !turn_made_ && !turn;
      turn_made_ = turn_made_ || turn;
      if (!writing_ && pending_events_ == 0 && !coalesce_ && !before_first_turn) {  // out at once
        in_flight_.Swap(&next_);
        StartWriteLocked(resume_after);
      } else if (!writing_) {
        // Coalescing: a batching stream past its first turn gathers events
        // while the writer is idle, and writes them when the batch is full
        // or has waited kCoalesce.
        if (!FitsLocked(bytes)) WritePendingLocked();  // next_ starts the next batch
        if (pending_events_ == 0) coalescing_since_ = Clock::now();
        AppendLocked(bytes, resume_after);
        if (!writing_ &&
            (first_turn || PendingFullLocked() || Clock::now() - coalescing_since_ >= kCoalesce)) {
          WritePendingLocked();
        }
      } else if (FitsLocked(bytes)) {
        AppendLocked(bytes, resume_after);
      } else {
        held_ = true;
        held_bytes_ = bytes;
        held_resume_ = resume_after;
        return StopGeneratingLocked(lock);
      }
    }
  }

  // Whether building a conversation of `tokens` may take kSlowBuild or
  // more, judged by the last build's time per token (unknown: it may).
  bool MayTakeLong(double tokens) const {
    if (last_build_tokens_ <= 0) return true;
    return std::chrono::duration<double>(last_build_).count() * (tokens / last_build_tokens_) >=
           std::chrono::duration<double>(kSlowBuild).count();
  }

  // Whether pending_ takes no more events before the write in flight is done.
  bool PendingFullLocked() const {
    if (pending_events_ == 0) return false;
    return batch_bytes_ == 0 ||
           BatchMessageBytes(pending_body_bytes_) >= static_cast<size_t>(batch_bytes_);
  }

  // Whether an event of `bytes` may join pending_.
  bool FitsLocked(size_t bytes) const {
    if (pending_events_ == 0) return true;
    return batch_bytes_ > 0 && BatchMessageBytes(pending_body_bytes_ + BatchEntryBytes(bytes)) <=
                                   static_cast<size_t>(batch_bytes_);
  }

  // Moves next_ (an event of `bytes`) into pending_.
  void AppendLocked(size_t bytes, uint64_t resume_after) {
    pending_.mutable_batch()->add_events()->Swap(&next_);
    pending_body_bytes_ += BatchEntryBytes(bytes);
    ++pending_events_;
    pending_resume_ = resume_after;
  }

  // Writes pending_: a batch, or its only event bare.
  void WritePendingLocked() {
    if (pending_events_ == 1) {
      in_flight_.Swap(pending_.mutable_batch()->mutable_events(0));
    } else {
      in_flight_.Swap(&pending_);
    }
    pending_.Clear();
    pending_events_ = 0;
    pending_body_bytes_ = 0;
    StartWriteLocked(pending_resume_);
  }

  void StartWriteLocked(uint64_t resume_after) {
    writing_ = true;
    // Events before the first turn wait for it (Generate), so a write after
    // it was made holds it: the first turn went out at once.
    coalesce_ = batch_bytes_ > 0 && turn_made_;
    write_started_ = Clock::now();
    in_flight_resume_ = resume_after;
    // gRPC runs OnWriteDone on another thread, never inline.
    StartWrite(&in_flight_);
  }

  // The generator stops; if the call is over and OnDone has run, it deletes
  // the reactor. The caller must return at once.
  void StopGeneratingLocked(std::unique_lock<std::mutex>& lock) {
    generating_ = false;
    const bool destroy = done_;
    lock.unlock();
    if (destroy) delete this;
  }

  // The generator ends the stream with `status` once what it made is
  // written (OnWriteDone finishes if a write is in flight).
  void EndAfterWrites(const grpc::Status& status) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!finished_ && !writing_ && pending_events_ > 0) WritePendingLocked();  // coalesced
    if (!finished_ && writing_) {
      end_ = status;
      return StopGeneratingLocked(lock);
    }
    lock.unlock();
    FinishOnce(status, /*generator=*/true);
  }

  grpc::Status StoppedStatus(uint64_t resume_index) const {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("the server stopped at the end of its drain; resume on "
                                     "another replica with start_index ",
                                     resume_index));
  }

  // OK, or INTERNAL naming where when `event` (`bytes` as a message) cannot
  // go out: gRPC would end the call without saying where for a message over
  // its max send size, and abort the process for one that fails to
  // serialize (for proto3 messages, only one over 2 GiB can).
  grpc::Status CheckSendable(const StreamEvent& event, size_t bytes, uint64_t resume_index) {
    const int64_t limit = service_->limits_.max_send_message_bytes;
    if (bytes <= static_cast<size_t>(INT_MAX) &&
        (limit <= 0 || bytes <= static_cast<size_t>(limit))) {
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat(EventPosition(event), ": its message of ", bytes,
                                     " bytes cannot be sent (over the server's max send size of ",
                                     limit > 0 ? std::min<int64_t>(limit, INT_MAX) : INT_MAX,
                                     " bytes); resume with start_index ", resume_index));
  }

  // Runs a step of the generator; an exception escaping it (none of
  // convgen's code throws, but the standard library may, e.g. bad_alloc)
  // ends the stream with INTERNAL instead of terminating the server or
  // leaving the stream without a next step for ever.
  template <typename Step>
  void Guarded(Step step) {
    try {
      step();
    } catch (const std::exception& e) {
      FinishOnce(grpc::Status(grpc::StatusCode::INTERNAL,
                              absl::StrCat(stream_ ? absl::StrCat("conversation CONV_ID_",
                                                                  stream_->resume_index())
                                                   : std::string("preparing the request"),
                                           ": unexpected error: ", e.what())),
                 /*generator=*/true);
    }
  }

  // The code of a call that ended early, for the metrics: DEADLINE_EXCEEDED
  // once its deadline has (about) passed, else CANCELLED. The server's copy
  // of the deadline is the client's timeout counted from the call's arrival,
  // so it expires a little after the client's: a client at its deadline
  // cancels the call (RST_STREAM) first, which looks like any cancel.
  grpc::StatusCode CancelledCode() const {
    return context_->deadline() <= std::chrono::system_clock::now() + kDeadlineSlack
               ? grpc::StatusCode::DEADLINE_EXCEEDED
               : grpc::StatusCode::CANCELLED;
  }

  // On the generator: finishes the call if it was cancelled (also by its
  // deadline), or stops if another thread finished it; then the caller must
  // return at once. gRPC's context_ is valid only until OnDone, so the
  // generator reads it only under mutex_ while the call is not finished
  // (Finish is called only after claiming the finish under mutex_).
  bool Cancelled() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (finished_) {
      StopGeneratingLocked(lock);
      return true;
    }
    if (!stop_.stopped() && !context_->IsCancelled()) return false;
    const grpc::Status status(CancelledCode(), "cancelled");
    generating_ = false;
    ClaimFinishLocked(status.error_code());
    lock.unlock();
    FinishClaimed(status);
    return true;
  }

  // Finish is called outside the lock: OnDone may run (and delete this) as
  // soon as it is called. The caller must not touch this afterwards. The
  // generator passes generator=true: it stops too.
  void FinishOnce(const grpc::Status& status, bool generator = false) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (finished_) {
        if (generator) StopGeneratingLocked(lock);
        return;
      }
      // A cancelled call (by its client or its deadline) counts as such in
      // the metrics, whichever step noticed it (a preparation or a build
      // stops with an error of its own).
      ClaimFinishLocked(context_->IsCancelled() ? CancelledCode() : status.error_code());
      if (generator) generating_ = false;
    }
    FinishClaimed(status);
  }

  // Finishes the call the caller claimed (ClaimFinishLocked).
  void FinishClaimed(const grpc::Status& status) {
    // A bug of the server's, not the request's: the operator hears of it too.
    if (status.error_code() == grpc::StatusCode::INTERNAL) {
      spdlog::error("Generate: {}", status.error_message());
    }
    Finish(status);
  }

  // Returns true iff the caller is the one to call Finish.
  bool ClaimFinishLocked(grpc::StatusCode code) {
    if (finished_) return false;
    finished_ = true;
    final_code_ = code;
    return true;
  }

  ConversationServiceImpl* service_;
  grpc::CallbackServerContext* context_;
  const v1::GenerateRequest* request_;  // gRPC's, valid until OnDone
  Clock::time_point start_;
  bool first_write_ = true;  // OnWriteDone's
  StopSignal stop_;          // set by OnCancel; the CPU limit of each build
  // The generator's own.
  std::unique_ptr<ConversationStream> stream_;
  v1::GenerateResponse next_;  // the event just made (held_: waiting for room)
  int64_t batch_bytes_ = 0;    // see BatchBound
  std::mutex mutex_;
  // Guarded by mutex_.
  bool finished_ = false;
  bool done_ = false;        // OnDone ran
  bool generating_ = false;  // a generator runs (or is queued on the executor)
  grpc::StatusCode final_code_ = grpc::StatusCode::OK;
  Clock::time_point write_started_;  // none: epoch
  bool writing_ = false;
  v1::GenerateResponse in_flight_;  // gRPC's from StartWrite to OnWriteDone
  uint64_t in_flight_resume_ = 0;   // the resume index once in_flight_ is delivered
  uint64_t delivered_resume_ = 0;   // every conversation before it was delivered
  v1::GenerateResponse pending_;    // its batch: events for the next write
  int pending_events_ = 0;
  size_t pending_body_bytes_ = 0;  // the EventBatch's serialized size
  uint64_t pending_resume_ = 0;
  bool coalesce_ = false;               // batching, and the first turn went out
  Clock::time_point coalescing_since_;  // pending_'s first event, while no write is in flight
  // The generator's: how long the last build took, and its planned tokens.
  Clock::duration last_build_{};
  double last_build_tokens_ = 0;
  bool turn_made_ = false;   // the first turn was made
  bool slow_build_ = false;  // the generator is in a build that may take long
  bool held_ = false;        // next_ holds an event for the batch after pending_
  size_t held_bytes_ = 0;
  uint64_t held_resume_ = 0;
  std::optional<grpc::Status> end_;  // the generator ended: finish with it after the writes
  // The watchdog's own (only it touches them).
  Clock::time_point stalled_at_;
  bool cancel_sent_ = false;
};

void ConversationServiceImpl::AddStream(GenerateReactor* reactor) {
  if (limits_.max_stall_seconds <= 0) return;
  std::lock_guard<std::mutex> lock(streams_mutex_);
  streams_.insert(reactor);
}

void ConversationServiceImpl::RemoveStream(GenerateReactor* reactor) {
  if (limits_.max_stall_seconds <= 0) return;
  std::lock_guard<std::mutex> lock(streams_mutex_);
  streams_.erase(reactor);
}

void ConversationServiceImpl::WatchStalls() {
  const auto limit = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(limits_.max_stall_seconds));
  // A stall is seen at most a tenth of the limit (and 1 s) late.
  const auto period = std::clamp<Clock::duration>(limit / 10, std::chrono::milliseconds(10),
                                                  std::chrono::seconds(1));
  std::unique_lock<std::mutex> lock(streams_mutex_);
  while (!watchdog_wake_.wait_for(lock, period, [this] { return watchdog_stop_; })) {
    const Clock::time_point now = Clock::now();
    for (GenerateReactor* reactor : streams_) reactor->CheckStall(now, limit);
  }
}

ConversationServiceImpl::ConversationServiceImpl(Workspace* workspace, ServiceLimits limits,
                                                 ServiceMetrics* metrics)
    : workspace_(workspace),
      limits_(limits),
      metrics_(metrics),
      executor_(limits.worker_threads > 0
                    ? limits.worker_threads
                    : std::max(2, static_cast<int>(std::thread::hardware_concurrency())),
                limits.max_worker_threads, kWorkerNice) {
  if (limits_.max_stall_seconds > 0) watchdog_ = std::thread([this] { WatchStalls(); });
  workspace_->SetRequestTokenizerObserver([metrics = metrics_](bool loaded, size_t cached) {
    metrics->RequestTokenizer(loaded, cached);
  });
}

ConversationServiceImpl::~ConversationServiceImpl() {
  workspace_->SetRequestTokenizerObserver(nullptr);
  {
    std::lock_guard<std::mutex> lock(streams_mutex_);
    watchdog_stop_ = true;
  }
  watchdog_wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

grpc::ServerWriteReactor<v1::GenerateResponse>* ConversationServiceImpl::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  auto* reactor = new GenerateReactor(this, context, request);
  reactor->Begin();
  return reactor;
}

grpc::ServerUnaryReactor* ConversationServiceImpl::Validate(grpc::CallbackServerContext* context,
                                                            const v1::GenerateRequest* request,
                                                            v1::ValidateResponse* response) {
  const auto start = Clock::now();
  metrics_->RpcStarted("Validate");
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  executor_.Submit([this, start, request, response, reactor] {
    std::vector<ConfigError> problems;
    StopSignal stop(limits_.max_build_cpu_seconds);
    GenerationRequest generation = RequestFromProto(*request);
    generation.stop = &stop;
    absl::StatusOr<std::unique_ptr<GenerationJob>> job =
        PrepareGeneration(*workspace_, generation, limits_, &problems);
    grpc::Status status = grpc::Status::OK;
    if (job.ok()) {
      JobToProto(**job, response);
    } else if (!problems.empty()) {
      ProblemsToProto(problems, response);
    } else {
      status = ToGrpcStatus(job.status());
    }
    metrics_->RpcHandled("Validate", CodeName(status.error_code()), SecondsSince(start));
    reactor->Finish(status);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ConversationServiceImpl::Describe(grpc::CallbackServerContext* context,
                                                            const v1::DescribeRequest*,
                                                            v1::DescribeResponse* response) {
  const auto start = Clock::now();
  metrics_->RpcStarted("Describe");
  response->set_version(CONVGEN_VERSION);
  for (const auto& [name, description] : workspace_->DescribeTokenizers()) {
    auto* t = response->add_tokenizers();
    t->set_name(name);
    t->set_description(description);
    t->set_is_default(name == kDefaultTokenizer);
  }
  for (const std::string& name : workspace_->CorpusNames()) response->add_corpora(name);
  auto* limits = response->mutable_limits();
  limits->set_max_conversations_per_request(limits_.max_conversations_per_request);
  limits->set_max_concurrent_streams(limits_.max_concurrent_streams);
  limits->set_max_inline_corpus_bytes(limits_.max_inline_corpus_bytes);
  limits->set_max_message_bytes(limits_.max_message_bytes);
  limits->set_max_messages_per_conversation(limits_.max_messages_per_conversation);
  limits->set_max_numpy_legacy_draws(limits_.max_numpy_legacy_draws);
  limits->set_max_build_cpu_seconds(limits_.max_build_cpu_seconds);
  limits->set_max_stall_seconds(limits_.max_stall_seconds);
  limits->set_max_send_message_bytes(limits_.max_send_message_bytes);
  limits->set_max_batch_bytes(limits_.max_batch_bytes);
  const ServerWideLimits& server = limits_.server_wide;
  limits->set_max_memory_bytes(server.max_memory_bytes);
  limits->set_max_corpus_bytes(server.max_corpus_bytes);
  limits->set_max_text_files(server.max_text_files);
  limits->set_max_watch_streams(server.max_watch_streams);
  limits->set_grpc_memory_bytes(server.grpc_memory_bytes);
  limits->set_max_receive_message_bytes(server.max_receive_message_bytes);
  limits->set_accept_compressed_requests(server.accept_compressed_requests);
  limits->set_drain_seconds(server.drain_seconds);
  limits->set_max_request_tokenizer_bytes(server.max_request_tokenizer_bytes);
  limits->set_request_tokenizer_cache(server.request_tokenizer_cache);
  metrics_->RpcHandled("Describe", "OK", SecondsSince(start));
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace convgen
