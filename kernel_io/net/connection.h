#pragma once
// connection: one TCP connection on the core that accepted (or opened) it.
//
// Receiving is one multishot IORING_OP_RECV into the core's provided buffers.
// Each CQE hands this connection one filled buffer, queued here until the
// session reads it. read_some() returns the next buffer's bytes as a mutable
// view (so SMTP can dot-unstuff in place); the view stays valid until the next
// read_some() or release(), when the buffer goes back to the kernel.
//
// Back-pressure: when the unread buffers reach receive_limit_bytes (each
// counted as full, however few bytes it carries) the receive is cancelled
// and re-armed once the session has caught up, so a client that sends
// faster than its session consumes holds a bounded amount of memory.
// -ENOBUFS (the core is out of buffers) ends the multishot receive; it is
// re-armed when buffers come back, never after a sleep.
//
// Lifetime (structured): the session that owns a connection must `co_await
// close()` before the connection is destroyed; close() cancels the receive
// and waits for its final CQE, so no CQE can arrive for a dead object. Sends
// are single-shot awaiters in the session's frame.
//
// Errors: end of stream is sys_error{0}; idle timeout ETIMEDOUT; shutdown of
// the server while the session waits between commands ESHUTDOWN; a wake-up by
// interrupt_read() EINTR.
//
// interrupt_read() lets something else on this core (a notification that a
// mailbox changed, for IMAP IDLE) wake a session that waits for bytes, so it
// can await "data or an event" with one read. The read returns EINTR and the
// connection is unchanged: nothing was consumed, the receive stays armed, the
// next read_some() waits again.

#include <coroutine>
#include <cstdint>
#include <deque>
#include <span>

#include "kernel_io/base/result.h"
#include "kernel_io/base/sys_error.h"
#include "kernel_io/net/socket_address.h"
#include "kernel_io/ring/completion.h"
#include "kernel_io/ring/reactor.h"
#include "kernel_io/ring/task.h"

namespace kio {

struct connection_options {
  uint64_t idle_timeout_ms = 300'000;     // per read
  uint64_t send_timeout_ms = 300'000;     // per send
  // Unread bytes before the receive pauses, each queued buffer counted as
  // full (a one-byte segment takes a whole buffer). Above one reap's worth
  // of a 64 KB block (four 16 KB buffers): at exactly 64 KB every block
  // cancelled and re-armed the receive (bench/runtime found it).
  uint32_t receive_limit_bytes = 131072;
  uint32_t send_zerocopy_min_bytes = 0;   // 0 = never use send_zc
};

class connection {
 public:
  connection(reactor& r, int fd, const socket_address& peer, const connection_options& options = {});
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  class read_awaiter {
   public:
    read_awaiter(connection& c, uint64_t timeout_ms) : _c(c), _timeout_ms(timeout_ms) {}
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    result<std::span<std::byte>, sys_error> await_resume();

   private:
    connection& _c;
    uint64_t _timeout_ms;
  };
  // The next received bytes (never empty on success).
  read_awaiter read_some() { return read_awaiter(*this, _options.idle_timeout_ms); }
  read_awaiter read_some(uint64_t timeout_ms) { return read_awaiter(*this, timeout_ms); }
  // Returns the buffer the last read_some() gave out.
  void release();

  // Sends every byte, or fails (EPIPE, ECONNRESET, ETIMEDOUT...).
  task<result<void, sys_error>> write_all(std::span<const std::byte> bytes);

  // Cancels the receive, waits for it to end, closes the socket.
  task<void> close();

  // Wakes a reader waiting in read_some() with EINTR, if one waits and no
  // bytes are queued (queued bytes wake it anyway). Returns whether a reader
  // was woken. Not sticky: with no reader waiting nothing happens, so the
  // caller keeps its own "something happened" flag and checks it before it
  // reads (all on this core: no race between the check and the wait).
  bool interrupt_read();

  // The session says it is between commands: a server shutdown may then
  // interrupt its wait for the next command with ESHUTDOWN.
  void set_between_commands(bool yes);

  int fd() const { return _fd; }
  // Received bytes waiting to be read (an early talker has some before the greeting).
  bool has_unread() const { return !_queue.empty(); }
  const socket_address& peer() const { return _peer; }
  connection_options& options() { return _options; }
  uint64_t bytes_received() const { return _bytes_received; }
  uint64_t bytes_sent() const { return _bytes_sent; }

  // Called by the reactor.
  void arm_receive();
  void on_reactor_stop();
  void abort();

 private:
  struct chunk {
    uint16_t buffer_id;
    uint32_t length;
  };

  static void on_recv(completion* c, int32_t res, uint32_t flags);
  static void on_idle_timeout(timer* t);
  void wake_reader(int error);
  void pause_receive();
  void maybe_resume_receive();
  bool queue_full() const;

  struct recv_completion : completion {
    connection* owner;
  };
  struct idle_timer : timer {
    idle_timer() : timer(&connection::on_idle_timeout) {}
    connection* owner = nullptr;
  };

  reactor& _reactor;
  int _fd;
  socket_address _peer;
  connection_options _options;
  recv_completion _recv{};
  idle_timer _idle;
  bool _recv_armed = false;
  bool _recv_cancel_sent = false;
  bool _waiting_buffers = false;
  bool _eof = false;
  bool _closed = false;
  bool _between_commands = false;
  int _recv_error = 0;         // sticky error from the receive side
  int _wake_error = 0;         // why a waiting reader was woken without data
  // Received buffers not yet read. Usually a few; it can grow past
  // receive_limit_bytes because, with DEFER_TASKRUN, one io_uring_enter may
  // run the multishot receive many times before the pausing cancel lands.
  // That is still bounded: every entry is one of the core's provided
  // buffers, so the core's buffer ring caps the total.
  std::deque<chunk> _queue;
  uint32_t _queued_bytes = 0;
  int _held_buffer = -1;       // buffer id handed out by the last read
  std::coroutine_handle<> _reader;
  std::coroutine_handle<> _closer;
  uint64_t _bytes_received = 0, _bytes_sent = 0;
};

}  // namespace kio
