// From D3 records to the two forwards' inputs of one contrastive step: each record's eight views written into
// its slot of the view groups, in the order `ContrastiveStep` and `CoDELoss` read them.

import D3
import Tensor
import WebDataset

/// The views of `records` records: 8 groups (`ViewGroup` order) of `records` normalized CHW images each, in one
/// buffer; groups 0–3 are the first forward's input, groups 4–7 the second's.
final class ViewBatch: @unchecked Sendable {
    let records: Int
    let viewFloats: Int
    private let storage: UnsafeMutableBufferPointer<Float>

    init(records: Int, viewFloats: Int) {
        self.records = records
        self.viewFloats = viewFloats
        storage = .allocate(capacity: ViewGroup.allCases.count * records * viewFloats)
        storage.initialize(repeating: 0)
    }

    deinit { storage.deallocate() }

    /// The group a view goes to: the views and the groups have the same order (`CoDEView`, `ViewGroup`).
    static func group(of view: CoDEView) -> ViewGroup {
        switch view {
        case .real: return .real
        case .fake: return .fake
        case .augmentedReal: return .augmentedReal
        case .augmentedFake: return .augmentedFake
        case .globalReal: return .globalReal
        case .localReal: return .localReal
        case .globalFake: return .globalFake
        case .localFake: return .localFake
        }
    }

    /// Where record `record`'s `view` is written.
    func destination(_ view: CoDEView, record: Int) -> UnsafeMutableBufferPointer<Float> {
        let offset = (Self.group(of: view).rawValue * records + record) * viewFloats
        return UnsafeMutableBufferPointer(rebasing: storage[offset..<(offset + viewFloats)])
    }

    /// The first forward's input, cat[real, fake, augmentedReal, augmentedFake].
    var firstForward: UnsafeBufferPointer<Float> { UnsafeBufferPointer(rebasing: storage[..<(storage.count / 2)]) }
    /// The second forward's input, cat[globalReal, localReal, globalFake, localFake].
    var secondForward: UnsafeBufferPointer<Float> { UnsafeBufferPointer(rebasing: storage[(storage.count / 2)...]) }
}

/// Decodes B records and writes their views into a `ViewBatch`, on `threads` threads. A record whose images do
/// not decode is logged and its slot filled again from the next record, until every slot has views.
struct ViewBatcher {
    let builder: CoDEViewBuilder
    let threads: Int

    /// More undecodable records than this in one batch means the shards hold too few images that decode.
    static func replacementLimit(records: Int) -> Int { max(1000, 10 * records) }

    /// Fills `batch` from `records` (exactly `batch.records` samples; slots that fail are replaced in place from
    /// `next`). Record `i`'s views draw from `rng.derived(i)`. Returns how many records were left out.
    func fill(_ batch: ViewBatch, records: inout [Sample], rng: RandomSource, next: () throws -> Sample,
              warn: (String) -> Void) throws -> Int {
        precondition(records.count == batch.records, "one sample per slot")
        let b = batch.records
        var failures = [String?](repeating: nil, count: b)
        var pending = Array(0..<b), replaced = 0
        while !pending.isEmpty {
            let slots = pending, samples = records
            failures.withUnsafeMutableBufferPointer { fails in
                let fails = UncheckedSendable(fails)
                parallelFor(slots.count, threads: threads) { j in
                    let i = slots[j]
                    switch decodeRecord(samples[i]) {
                    case let .failure(e): fails.value[i] = e.description
                    case let .success(record):
                        builder.makeViews(real: record.real, fakes: record.fakes, rng: rng.derived(UInt64(i))) { view in
                            batch.destination(view, record: i)
                        }
                    }
                }
            }
            pending = slots.filter { failures[$0] != nil }
            for i in pending {
                warn("warning: \(failures[i]!) (the record is left out of the step, replaced by the next record)")
                failures[i] = nil
                records[i] = try next()
            }
            replaced += pending.count
            if replaced > Self.replacementLimit(records: b) {
                throw TrainingError.data("more than \(Self.replacementLimit(records: b)) undecodable training records in one step: the training "
                                    + "shards hold too few images that decode")
            }
        }
        return replaced
    }
}
