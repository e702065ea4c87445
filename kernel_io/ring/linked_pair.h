#pragma once
// linked_pair: the completions of two SQEs submitted as one linked chain
// (IOSQE_IO_LINK), e.g. write -> fdatasync or connect -> link timeout. The
// awaiting coroutine resumes once both CQEs have arrived — never earlier, so
// neither completion can outlive the frame that holds it.

#include <coroutine>
#include <cstdint>

#include "kernel_io/ring/completion.h"
#include "kernel_io/ring/reactor.h"

namespace kio {

class linked_pair {
 public:
  struct part : completion {
    linked_pair* parent = nullptr;
    int32_t res = 0;
  };

  // Call from await_suspend, before preparing the SQEs with first/second.
  void arm(std::coroutine_handle<> waiter) {
    _waiter = waiter;
    _pending = 2;
    for (part* p : {&first, &second}) {
      p->parent = this;
      p->on_cqe = &on_part;
    }
  }

  part first, second;

 private:
  static void on_part(completion* c, int32_t res, uint32_t) {
    auto* p = static_cast<part*>(c);
    p->res = res;
    if (--p->parent->_pending == 0) reactor::current()->schedule(p->parent->_waiter);
  }
  std::coroutine_handle<> _waiter;
  int _pending = 0;
};

}  // namespace kio
