#pragma once
// outbound_queue: delivers queued mail to other domains' servers.
//
// Lives on one core, the owner core of the queue's system account in the
// store (queue_envelope.h says how a queued message is stored). Submission
// sessions on any core queue a message by running append() on this core and
// awaiting its group commit there; then they say 250, and wake() starts its
// delivery. The queue loop keeps an in-memory view of the queued messages
// (rebuilt from the store at start: a restart resumes exactly where the
// durable keywords say), starts due deliveries up to the configured limits
// and sleeps until the next one is due.
//
// A delivery attempt of one message: recipients not yet final are grouped
// by domain; for each domain the route is the smarthost or the MX hosts in
// preference order (A/AAAA of the domain when it has no MX, RFC 5321 §5.1);
// each host's addresses are tried in turn. 2xx: the recipient is marked
// delivered (durable) and never sent to again. 5xx: marked failed after its
// DSN has been delivered to the submitter. 4xx or no connection: retried
// with exponential backoff; a one-time delay warning after delay_warning_ms;
// failed (with a DSN) after queue_lifetime_ms. When every recipient is final
// the message leaves the queue (expunge).
//
// Connections are reused: a connection that delivered a message goes to an
// idle pool keyed by domain for a few seconds, and the next message to that
// domain takes it (up to messages_per_connection_max).

#include <coroutine>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "appliance/outbound/queue_envelope.h"
#include "appliance/smtp/smtp_services.h"
#include "kernel_io/ring/task.h"
#include "kernel_io/ring/timer.h"
#include "protocols/dns/resolver.h"
#include "protocols/smtp/client/client.h"
#include "store/message_store.h"

namespace appliance::outbound {

struct queue_item;

class outbound_queue {
 public:
  outbound_queue(smtp_shared& shared, unsigned core);
  ~outbound_queue();
  unsigned core() const { return _core; }

  // On the queue core. Appends the queued message (the blob must be
  // durable); the caller awaits the ticket on this core's commit driver,
  // then calls wake().
  kio::result<store::store_ticket, store::errc> append(const envelope& e, const store::blob_key& key);
  void wake();

  // The loop; spawned on the queue core at start. Ends after stop().
  kio::task<void> run();
  void stop();

  // Admin commands (on the queue core).
  std::string list(bool json) const;
  std::string show(const std::string& id, bool json) const;
  // retry: due now; hold / release; remove: drop without DSN.
  kio::task<std::string> control(std::string verb, std::string id);
  // Every waiting message that is not held becomes due now (Postfix's
  // `postqueue -f`: the operator fixed the far side). Returns how many.
  std::size_t flush();

  // For tests and logs: a resolver can be injected before run().
  void set_resolver(std::unique_ptr<dns::resolver> r) { _resolver = std::move(r); }

 private:
  kio::task<kio::result<void, store::errc>> ensure_account();
  void load_new();
  kio::task<void> deliver(std::shared_ptr<queue_item> item);
  kio::task<void> sign(queue_item& item);
  kio::task<void> deliver_domain(queue_item& item, std::string domain, std::vector<size_t> recipients);
  kio::task<bool> mark(queue_item& item, std::vector<std::string> keywords, std::vector<std::string> remove = {});
  kio::task<bool> deliver_dsn(queue_item& item, std::vector<size_t> recipients, bool delayed);
  kio::task<void> finish(std::shared_ptr<queue_item> item);
  kio::task<void> reap_idle();
  // Moves the idle connections out of _idle: those idle since before the
  // given wall time, or all. The caller closes them; nothing is left in
  // _idle that an await elsewhere could be closing at the same time.
  std::vector<std::unique_ptr<smtp::client>> take_idle(uint64_t idle_since_before_ms, bool all);
  std::shared_ptr<queue_item> find(const std::string& id) const;
  uint64_t mailbox() const;

  struct wake_timer : kio::timer {
    wake_timer() : kio::timer(&fire) {}
    static void fire(kio::timer* t);
    std::coroutine_handle<> waiter;
  };
  struct idle_connection {
    std::unique_ptr<smtp::client> client;
    uint64_t idle_since_ms = 0;
    uint32_t messages = 0;
  };

  smtp_shared& _shared;
  unsigned _core;
  std::unique_ptr<dns::resolver> _resolver;
  std::shared_ptr<const tls::client_context> _tls;
  // The smarthost's AUTH credentials, read from outbound.smarthost_auth_file
  // when the loop starts (a restart picks up a changed file).
  std::string _auth_user, _auth_password, _auth_problem;
  std::map<uint32_t, std::shared_ptr<queue_item>> _items;  // by UID in the queue mailbox
  uint32_t _loaded_through_uid = 0;
  std::map<std::string, uint32_t> _active_per_domain;
  std::map<std::string, std::deque<std::coroutine_handle<>>> _slot_waiters;
  std::map<std::string, std::vector<idle_connection>> _idle;
  uint32_t _in_flight = 0;
  wake_timer _wake;
  bool _stopping = false;
  bool _running = false;
  bool _reaper_running = false;
  uint64_t _dsn_counter = 0;
};

}  // namespace appliance::outbound
