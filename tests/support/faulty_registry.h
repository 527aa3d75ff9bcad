// A deliberately unreliable registry for fault tests: a cpp-httplib server
// on a free 127.0.0.1 port speaking enough of the distribution API v2
// (GET/HEAD of manifests and blobs, Range requests, optionally the bearer
// token flow) to serve the blobs and manifests a test gives it, with
// per-blob faults. Every request is recorded for assertions.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "oci/digest.h"

namespace httplib {
class Server;
}

namespace hull::test {

// What goes wrong when a blob is fetched. "The first K times" counts GET
// responses of that blob that the fault applies to. Offsets are of the
// blob: a fault at offset X applies to an answer (whole blob, one range,
// or a multipart/byteranges body) that holds byte X, when it sends it.
//
// Range requests: one range gets a 206 with Content-Range, several get a
// 206 multipart/byteranges body (parts in the order asked), as
// docker-registry answers them; the fields from flip_in_ranges_at on
// change that.
struct BlobFaults {
  uint64_t truncate_after = 0;  // close the connection at this offset...
  int truncate_times = 0;       // ...the first K times (then serve properly)
  int corrupt_times = 0;        // flip the byte in the middle of the blob, the first K times
  uint64_t stall_after = 0;     // stop sending at this offset...
  int stall_seconds = 0;        // ...for this long...
  int stall_times = 0;          // ...the first K times
  int fail_500_times = 0;       // answer 500 the first K times
  int too_many_times = 0;       // answer 429 the first K times...
  int retry_after_seconds = 1;  // ...with this Retry-After
  bool ignore_range = false;    // always answer 200 with the whole blob
  int64_t content_length_delta = 0;  // announce size + delta bytes (always)
  bool redirect = false;        // answer 307 to /storage/DIGEST (as registries using S3 do)

  int64_t flip_in_ranges_at = -1;  // flip this byte in every 206 answer that holds it
  bool whole_for_multi = false;    // answer 200 with the whole blob to a request of several ranges
  size_t max_ranges = 0;           // answer 400 to a request of more than this many ranges (0: no limit)
  bool merge_parts = false;        // answer several ranges with one 206 part, first start to last end
  bool first_range_only = false;   // answer several ranges with a 206 of the first one alone
  bool reorder_parts = false;      // send multipart parts last first
  std::string boundary = "3d6b6a416f9b5";  // multipart boundary, sent unquoted (quay's holds ':')
};

class FaultyRegistry {
 public:
  struct Request {
    std::string method;
    std::string path;
    std::string range;          // the Range header, if any
    std::string authorization;  // the Authorization header, if any
  };

  // bearer_auth: every /v2/ request needs "Bearer faulty-token", obtained
  // from this server's /token after a 401 challenge.
  explicit FaultyRegistry(bool bearer_auth = false);
  ~FaultyRegistry();
  FaultyRegistry(const FaultyRegistry&) = delete;
  FaultyRegistry& operator=(const FaultyRegistry&) = delete;

  // "127.0.0.1:PORT".
  std::string host() const;
  // Serves `data` as a blob of any repository; returns its digest.
  oci::Digest add_blob(std::string data, BlobFaults faults = {});
  // Serves a manifest under `tag` and under its digest (returned). With
  // `chunked` the body is sent without a Content-Length.
  oci::Digest add_manifest(const std::string& tag, std::string bytes, std::string media_type, bool chunked = false);

  std::vector<Request> requests() const;
  // The number of ranges in a Range header ("bytes=0-9,20-29" -> 2; "" -> 0).
  static size_t range_count(const std::string& range_header);
  // Requests whose method is `method` and whose path contains `part`.
  int count(const std::string& method, const std::string& part) const;
  int token_requests() const;

 private:
  struct Blob {
    std::shared_ptr<const std::string> data;
    BlobFaults faults;
    int gets = 0, fails = 0, throttles = 0, truncations = 0, corruptions = 0, stalls = 0;
  };
  struct Manifest {
    std::string bytes;
    std::string media_type;
    std::string digest;
    bool chunked = false;
  };
  void routes();
  bool authorized(const void* req, void* res);
  void serve_blob(const void* req, void* res, const std::string& digest, bool storage);
  // Sleeps up to `seconds`, returning early when the server stops.
  void pause(int seconds);

  bool bearer_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::map<std::string, Blob> blobs_;
  std::map<std::string, Manifest> manifests_;  // by tag and by digest
  std::vector<Request> requests_;
  int token_requests_ = 0;
};

}  // namespace hull::test
