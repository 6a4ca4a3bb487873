// Files.PutFiles and Files.GetFiles: many small files in one call, so that a
// tree of them costs no round trip per file (docs/protocol.md, "Small files
// in batches"). Each file is still stored as an upload is: whole, fsynced and
// renamed into place, on record in the audit log before the client hears it
// is stored; what a batch saves is the calls, the audit commits and all but
// one fsync of each directory.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>

#include "core/home_fs.h"
#include "core/status.h"
#include "ferry/v1/files.grpc.pb.h"
#include "server/call_context.h"
#include "server/server_state.h"
#include "transfer/transfer_limits.h"

namespace ferry {

// What the handlers share with the file service: the caller, checked.
struct WholeFilesCaller {
  ServerState& state;
  grpc::ServerContext* ctx;
  SessionTable::ActiveCall& call;
  const HomeFs& home;
  AuditScope& audit;
};

// Stores the files of each message in order and answers it once they are
// durable and on record. The first file that cannot be stored ends the call
// with its error; the files before it stay stored.
Status ReceiveWholeFiles(
    const WholeFilesCaller& caller,
    grpc::ServerReaderWriter<v1::PutFilesResponse, v1::PutFilesRequest>* stream);

// Sends the files `req` names, in order, several to a message. The first
// that cannot be sent ends the call with its error.
Status SendWholeFiles(const WholeFilesCaller& caller, const v1::GetFilesRequest& req,
                      grpc::ServerWriter<v1::GetFilesResponse>* writer);

}  // namespace ferry
