// The Files gRPC service: a user's home over the wire. Every call needs a live
// session; every call leaves an audit record.
#pragma once

#include "ferry/v1/files.grpc.pb.h"
#include "server/server_state.h"

namespace ferry {

class FileService final : public ferry::v1::Files::Service {
 public:
  explicit FileService(ServerState* state) : state_(state) {}

  grpc::Status List(grpc::ServerContext* ctx, const v1::ListRequest* req,
                    grpc::ServerWriter<v1::ListResponse>* writer) override;
  grpc::Status Glob(grpc::ServerContext* ctx, const v1::GlobRequest* req,
                    grpc::ServerWriter<v1::ListResponse>* writer) override;
  grpc::Status Stat(grpc::ServerContext* ctx, const v1::StatRequest* req,
                    v1::StatResponse* resp) override;
  grpc::Status MakeDirectory(grpc::ServerContext* ctx, const v1::MakeDirectoryRequest* req,
                             v1::Empty* resp) override;
  grpc::Status Touch(grpc::ServerContext* ctx, const v1::TouchRequest* req,
                     v1::Empty* resp) override;
  grpc::Status Remove(grpc::ServerContext* ctx, const v1::RemoveRequest* req,
                      v1::Empty* resp) override;
  grpc::Status Rename(grpc::ServerContext* ctx, const v1::RenameRequest* req,
                      v1::Empty* resp) override;
  grpc::Status Head(grpc::ServerContext* ctx, const v1::HeadRequest* req,
                    v1::HeadResponse* resp) override;
  grpc::Status BeginUpload(grpc::ServerContext* ctx, const v1::BeginUploadRequest* req,
                           v1::BeginUploadResponse* resp) override;
  grpc::Status Upload(grpc::ServerContext* ctx, grpc::ServerReader<v1::UploadChunk>* reader,
                      v1::UploadResponse* resp) override;
  grpc::Status Download(grpc::ServerContext* ctx, const v1::DownloadRequest* req,
                        grpc::ServerWriter<v1::DownloadChunk>* writer) override;
  grpc::Status PutFiles(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::PutFilesResponse, v1::PutFilesRequest>* stream) override;
  grpc::Status GetFiles(grpc::ServerContext* ctx, const v1::GetFilesRequest* req,
                        grpc::ServerWriter<v1::GetFilesResponse>* writer) override;

 private:
  ServerState* state_;
};

// FileInfo -> wire entry.
void ToEntry(const FileInfo& info, v1::FileEntry* entry);

}  // namespace ferry
