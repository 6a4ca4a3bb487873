// A response body that is written while it is sent, for Server-Sent Events.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>

namespace ferry {

// A response body written while it is sent (Server-Sent Events): for one
// client, for as long as it stays.
//
// A handler makes one, may write to it at once, and sets it as
// HttpResponse::stream; it keeps a shared_ptr to write to it later, from any
// thread. The server sends the status and headers, then what is written, in
// the order written, as it is written; the body ends when the connection
// closes. A HEAD request gets the headers alone, and the stream is closed.
//
// The stream closes (Write returns false, closed() is true) when Close() is
// called, when the client goes away (or closes its side of the connection),
// when a write to the client fails or does not finish within io_timeout, when
// the server stops, or when more than `max_queued` bytes wait to be sent.
// A producer checks the result of Write, or closed(), and forgets the stream
// once it is closed. Nothing is buffered without bound: a client that does
// not read is dropped, not waited for.
//
// Thread-safe. Writes and Close() never wait for the network: they queue and
// wake the connection's coroutine on its event loop.
class HttpStream {
 public:
  explicit HttpStream(size_t max_queued = 1 << 20);
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  // Any thread. Queues `data` to be sent after what is queued; false once the
  // stream is closed (client gone, server stopping, Close(), or the queue
  // passed max_queued because the client does not read: then the stream is
  // closed and the connection dropped rather than buffered without bound).
  bool Write(std::string data);
  // Any thread. Ends the body once what is queued is sent.
  void Close();
  bool closed() const;

 private:
  // The server's side, in http_server.cc: attaches a connection's wake-up,
  // takes what is queued, and drops the stream.
  friend class HttpStreamSending;

  struct Taken {
    std::string data;      // to send now
    bool ended = false;    // nothing comes after `data`
    bool dropped = false;  // ended, and the connection is to be dropped
  };

  // Calls `wake` (on any thread, with the lock held; it must not block) when
  // something is queued or the stream closes, once until the next Take();
  // and with true, once, when the stream is dropped.
  void Attach(std::function<void(bool dropped)> wake);
  Taken Take();
  // Closes the stream and forgets what is queued: the connection ends now.
  void Drop();
  // Drop() without waking, and forgets the wake-up: the connection is done.
  void Detach();
  void DropLocked();  // REQUIRES: mu_ held

  const size_t max_queued_;
  mutable std::mutex mu_;
  std::string queued_;                      // GUARDED_BY(mu_)
  bool closed_ = false;                     // GUARDED_BY(mu_)
  bool dropped_ = false;                    // GUARDED_BY(mu_)
  bool wake_pending_ = false;               // GUARDED_BY(mu_)
  std::function<void(bool dropped)> wake_;  // GUARDED_BY(mu_)
};

}  // namespace ferry
