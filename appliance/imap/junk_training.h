#pragma once
// Junk training: a user who moves a message into Junk (or a folder below
// it) says "this is spam"; moving it out of Junk says "this is not spam".
// The IMAP service reports each such move as one training_event to a
// training_sink, in three steps on the account's owner core:
//   prepare()  before the move's records are appended: whatever record()
//              needs (the spam filter's sink creates, once per core, the
//              mailbox its intents go to; that may await a group commit);
//   record()   right after the move's records are appended, with no await
//              in between: the sink appends the durable form of the event
//              to the same core's log and returns its ticket, which the
//              service flushes instead of its own (the later record: one
//              group commit, one fdatasync, makes both durable);
//   train()    once the move (and the record) are durable.
// The spam filter's sink (appliance/spam/spam_training.h) records an
// intent and trains from it in the background, so an acknowledged move is
// never untrained.
//
// The hook is no-op safe: with no sink nothing happens and moves work as
// always; a sink that records nothing (logging_training_sink, one log line
// `junk_training` per event) costs the move nothing. A sink runs between
// completions: it must not block (queue the work, read the blobs through
// the store, classify on the worker pool).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <optional>

#include "appliance/observe/log.h"
#include "kernel_io/ring/task.h"
#include "store/format/format.h"
#include "store/message_store.h"

namespace appliance {

enum class training_verdict : uint8_t { spam, ham };
std::string_view to_string(training_verdict v);

struct training_event {
  training_verdict verdict = training_verdict::spam;
  uint64_t account = 0;             // directory / store account id
  std::string source_mailbox;       // names as the user sees them
  std::string target_mailbox;
  bool copy = false;                // COPY into Junk (the source keeps its copy)
  // The messages' contents: store blob keys (read_blob) and their
  // per-delivery header prefixes (Received, Delivered-To...).
  std::vector<store::blob_key> blobs;
  std::vector<std::string> header_prefixes;
  std::vector<uint64_t> blob_sizes;  // bytes of each blob (a consumer may skip huge ones unread)
};

class training_sink {
 public:
  virtual ~training_sink() = default;
  // Before the transfer is appended (owner core of `account`).
  virtual kio::task<void> prepare(uint64_t account) {
    (void)account;
    co_return;
  }
  // Right after the transfer is appended, before its flush: the ticket of
  // what the sink appended (flush it instead of the transfer's), or nullopt.
  virtual std::optional<store::store_ticket> record(const training_event& event) {
    (void)event;
    return std::nullopt;
  }
  // Once the transfer is durable.
  virtual void train(const training_event& event) = 0;
};

// Is `name` (with special-use `use`) Junk or a folder below a Junk folder?
// `junk_names` are the names of the account's Junk mailboxes (special-use
// \Junk); the name "Junk" itself counts even without the attribute.
bool is_junk_folder(std::string_view name, store::special_use use, const std::vector<std::string>& junk_names);

// What a move or copy from `source` to `target` teaches, if anything: into
// Junk (from outside it) is spam; out of Junk (to a folder outside it, not
// Trash: deleting spam is not "this is good mail") is ham. A copy teaches
// as a move does: a client without MOVE (RFC 6851) moves by COPY, STORE
// \Deleted and EXPUNGE, and one that only copies a message out of Junk has
// said as much as one that moves it (Dovecot's imapsieve recipe for
// antispam trains ham on a COPY out of Junk too).
enum class training_direction : uint8_t { none, spam, ham };
training_direction classify_transfer(bool source_junk, bool target_junk, store::special_use target_use);

// The default sink: a `junk_training` log line per event.
class logging_training_sink final : public training_sink {
 public:
  explicit logging_training_sink(const logger& log) : _log(log) {}
  void train(const training_event& event) override;

 private:
  const logger& _log;
};

}  // namespace appliance
