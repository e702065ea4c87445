#pragma once
// index_state: the mailbox indexes, derived from the log. Everything here
// is a function of the records applied to it, in log order, so the live path
// and recovery run the same code: the store applies a record only after the
// fdatasync that covers it (durable before visible), and recovery applies the
// same records from disk. A checkpoint is this state serialized with the log
// position it covers.
//
// Lifecycle and core: one index_state per core, holding the accounts that
// core owns (hash(account) mod cores). Only the owner core reads or changes
// it; other cores send it messages.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/format/format.h"

namespace store::index {

struct message_entry {
  std::uint32_t uid = 0;
  blob_key key;
  std::uint64_t blob_size = 0;
  std::uint64_t size = 0;            // RFC822.SIZE: header prefix + blob
  std::int64_t internal_date_ms = 0;
  std::uint32_t flags = 0;           // message_flag bits
  std::vector<std::string> keywords; // sorted, unique
  std::uint64_t modseq = 0;          // CONDSTORE MODSEQ of this message
  std::string header_prefix;
};

struct mailbox_state {
  mailbox_id id{};
  std::string name;
  std::uint32_t uid_validity = 0;
  std::uint32_t uid_next = 1;           // durable: next UID a delivery may take
  std::uint64_t highest_modseq = 1;     // RFC 7162: starts at 1 for a new mailbox
  special_use use = special_use::none;
  bool subscribed = true;
  std::map<std::uint32_t, message_entry> messages;  // by UID
  // QRESYNC: every expunged UID with the modseq of its expunge, in order.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> expunged;
  // Owner-core reservations ahead of the durable state: appended records
  // take UIDs and modseqs from here, so they are unique before they are
  // durable. Not serialized: after a restart they restart at the durable
  // values, which is safe because a UID that never became durable was never
  // shown to a client.
  std::uint32_t uid_reserved = 1;
  std::uint64_t modseq_reserved = 1;

  // UIDs of the messages whose modseq is above `modseq`, ascending. IMAP
  // asks after every command (a session's refresh); this reads the change
  // log, so it costs the changes since, not the size of the mailbox.
  std::vector<std::uint32_t> changed_since(std::uint64_t modseq) const;

  // Called by index_state whenever a message takes a modseq (delivered,
  // moved in, flags changed), and after a checkpoint load.
  void note_change(std::uint32_t uid, std::uint64_t modseq);
  void rebuild_change_log();

 private:
  // Every (modseq, uid) a message took, in modseq order. A later change of
  // the same message (or its expunge) leaves the earlier entry stale; the
  // log is rebuilt from `messages` once it is more than twice their number.
  // Derived, never serialized.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> _change_log;
  // False after an entry arrived below the last one (records are applied
  // in modseq order, so only a checkpoint load does that, and rebuilds):
  // reads then walk the messages until the next rebuild.
  bool _change_log_sorted = true;
};

struct account_state {
  account_id id{};
  std::string name;
  std::uint64_t quota_bytes = 0;      // 0 = unlimited
  std::uint64_t quota_messages = 0;   // 0 = unlimited
  std::uint64_t used_bytes = 0;       // durable messages, counted per delivery
  std::uint64_t used_messages = 0;
  std::uint64_t pending_bytes = 0;    // appended deliveries not yet durable
  std::uint64_t pending_messages = 0;
  std::uint32_t mailbox_next = 1;     // durable
  std::uint32_t mailbox_reserved = 1;
  std::uint32_t uid_validity_last = 0;
  std::map<std::uint32_t, mailbox_state> mailboxes;  // by mailbox_id
};

// Records that were valid frames but made no sense against the state (a
// UID below uid_next, an unknown mailbox). They are counted and described,
// never applied; with a correct writer they do not happen.
struct apply_anomaly {
  std::string what;
};

class index_state {
 public:
  void apply(const format::record_payload& record);

  const account_state* account(account_id id) const;
  account_state* account(account_id id);
  const mailbox_state* mailbox(account_id a, mailbox_id m) const;
  mailbox_state* mailbox(account_id a, mailbox_id m);
  const mailbox_state* find_mailbox(account_id a, std::string_view name) const;
  const std::map<account_id, account_state>& accounts() const { return _accounts; }

  // References to each blob from messages in this index (compaction asks
  // every core and keeps a blob while any count is non-zero).
  const std::unordered_map<blob_key, std::uint32_t, blob_key_hash>& blob_references() const { return _refs; }

  const std::vector<apply_anomaly>& anomalies() const { return _anomalies; }

  // A canonical text form of the durable state (tests compare a live index
  // with one rebuilt from scratch).
  std::string dump() const;

  // Checkpoint body (durable state only) and its inverse; decode fails on
  // any inconsistency rather than guessing.
  std::string serialize() const;
  static std::optional<index_state> deserialize(std::string_view bytes);

 private:
  void add_message(account_state& acct, mailbox_state& box, message_entry entry);
  void remove_message(account_state& acct, mailbox_state& box, std::uint32_t uid, std::uint64_t modseq);
  void anomaly(std::string what);

  std::map<account_id, account_state> _accounts;
  std::unordered_map<blob_key, std::uint32_t, blob_key_hash> _refs;
  std::vector<apply_anomaly> _anomalies;
};

}  // namespace store::index
