#include "jobs/job_control.h"

namespace ferry::jobs {

Status StopStatus() { return Status::Cancelled("the job was cancelled"); }

Status CheckStop(const JobControl& control) {
  return control.StopRequested() ? StopStatus() : Status::Ok();
}

}  // namespace ferry::jobs
