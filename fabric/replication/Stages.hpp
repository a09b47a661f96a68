// SPDX-License-Identifier: Apache-2.0
#pragma once

// Where a grain's commit is on its way from the source's flow to the sink's, for measurements
// (mxl-bench fabric --stages): a Sender or Receiver given an observer tells it as each commit of a
// discrete flow reaches a stage; without one it only tests a null pointer.

#include <cstdint>

namespace mxl::fabric
{
    enum class Stage : std::uint8_t
    {
        Noticed,          ///< Sender: saw the commit and queued its writes.
        Posted,           ///< Sender: the last payload write of the commit was posted.
        PayloadCompleted, ///< Sender: every payload write of the commit completed; its record is about to be posted.
        RecordLanded,     ///< Receiver: took the commit record; readers are woken right after.
    };

    /// Told, on the Sender's or Receiver's thread, when the commit of grain `index` up to
    /// `validSlices` reaches `stage`. A stage may be told again for the same commit (a post the
    /// provider took only on a retry): the last one counts. Called before whatever lets the next
    /// stage happen, so that an observer taking the time sees the stages in order. Must not block.
    class StageObserver
    {
    public:
        virtual ~StageObserver() = default;
        virtual void reached(Stage stage, std::uint64_t index, std::uint16_t validSlices) noexcept = 0;
    };
}
