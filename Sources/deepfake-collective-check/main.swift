import Collective
import Foundation

// Multi-rank checks of the Collective module, run by `mpirun -np N deepfake-collective-check SCENARIO`
// (Tests/CollectiveTests/MultiRankTests.swift launches them). Every rank checks its own results against
// values computed here in closed form, prints "rank R of N: K checks passed" and exits 0, or prints each
// failure and exits 1.
//
//   operations      every operation of `Collective`, including the non-blocking allreduce and finalize
//   mismatch        the ranks broadcast buffers of different lengths: the MPI error must come back as a
//                   CollectiveError naming the operation and the rank that saw it (then the job ends cleanly)
//   die             the last rank kills itself (SIGKILL) during a run of allreduces; the job must end
//   exit            the last rank exits without finalize() while the others wait in an allreduce
//   stuck SECONDS   the last rank sleeps; the others' allreduce has a deadline of SECONDS (the watchdog)

let usage = "usage: deepfake-collective-check operations | mismatch | die | exit | stuck SECONDS\n"

func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data("deepfake-collective-check: \(message)\n".utf8))
    exit(status)
}

/// Counts the checks of one rank and prints each failure.
final class Checks {
    let rank: Int, size: Int
    var passed = 0, failed = 0

    init(rank: Int, size: Int) { self.rank = rank; self.size = size }

    func expect(_ condition: Bool, _ what: @autoclosure () -> String) {
        if condition { passed += 1 } else { failed += 1; print("rank \(rank) of \(size): FAIL \(what())") }
    }

    /// `expected(i)` must equal `values[i]` exactly for every i.
    func expectEqual<T: BinaryFloatingPoint>(_ values: [T], _ expected: (Int) -> T, _ what: String) {
        let wrong = values.indices.first { values[$0] != expected($0) }
        expect(wrong == nil, wrong.map { "\(what): element \($0) is \(values[$0]), expected \(expected($0))" } ?? "")
    }

    /// Runs `body`, counting a thrown error as a failure.
    func run(_ what: String, _ body: () throws -> Void) {
        do { try body() } catch { expect(false, "\(what) threw: \(error)") }
    }

    func finish() -> Never {
        if failed == 0 { print("rank \(rank) of \(size): \(passed) checks passed") }
        fflush(nil)
        exit(failed == 0 ? 0 : 1)
    }
}

func start(timeout: Duration? = nil) -> any Collective {
    do { return try Collectives.start(timeout: timeout) } catch { fail("\(error)", status: 2) }
}

/// The bytes rank `rank` contributes to the gathers: `count` bytes from a pattern of its own.
func pattern(rank: Int, count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: rank * 31 + $0 * 7) } }

func operations() -> Never {
    let c = start()
    let n = c.size, r = c.rank
    let checks = Checks(rank: r, size: n)
    // The launcher says where each rank is (Open MPI's mpirun, or MPICH's Hydra mpiexec); the module finds it
    // through MPI itself.
    let e = ProcessInfo.processInfo.environment
    let said = [e["OMPI_COMM_WORLD_RANK"] ?? e["PMI_RANK"], e["OMPI_COMM_WORLD_SIZE"] ?? e["PMI_SIZE"],
                e["OMPI_COMM_WORLD_LOCAL_RANK"] ?? e["MPI_LOCALRANKID"], e["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? e["MPI_LOCALNRANKS"]]
        .compactMap { $0.flatMap { Int($0) } }
    if said.count == 4 {
        checks.expect([c.rank, c.size] == said[0...1], "rank \(c.rank) of \(c.size), the launcher says \(said[0]) of \(said[1])")
        checks.expect([c.localRank, c.localSize] == said[2...3],
                      "local rank \(c.localRank) of \(c.localSize), the launcher says \(said[2]) of \(said[3])")
        checks.expect(c.threadsPerRank(cores: 8) == max(1, 8 / said[3]), "threadsPerRank(cores: 8) with \(said[3]) local ranks")
    } else {
        checks.expect(false, "no launcher variables (OMPI_COMM_WORLD_* or PMI_*/MPI_LOCAL*): not started by mpirun or mpiexec")
    }
    let triangle = n * (n + 1) / 2  // sum over ranks of (rank + 1)

    checks.run("allreduce Float") {
        var sum = (0..<100_003).map { Float((r + 1) * ($0 % 251)) }
        var average = sum
        try c.allreduce(&sum, .sum)
        checks.expectEqual(sum, { Float(triangle * ($0 % 251)) }, "allreduce Float sum")
        try c.allreduce(&average, .average)
        checks.expectEqual(average, { Float(n + 1) / 2 * Float($0 % 251) }, "allreduce Float average")  // exact: a half-integer times an integer
    }
    checks.run("allreduce Double") {
        // Values that a Float cannot hold: the sum of 1e10 * (rank + 1) + i / 2 over the ranks, exact in a Double.
        var values = (0..<10_007).map { 1e10 * Double(r + 1) + Double($0) / 2 }
        try c.allreduce(&values, .sum)
        checks.expectEqual(values, { 1e10 * Double(triangle) + Double(n) * Double($0) / 2 }, "allreduce Double sum")
        values = (0..<10_007).map { 1e10 * Double(r + 1) + Double($0) }
        try c.allreduce(&values, .average)
        checks.expectEqual(values, { 1e10 * Double(n + 1) / 2 + Double($0) }, "allreduce Double average")
    }
    checks.run("allreduce of ViT-Tiny's 5,524,416 gradients") {
        var values = (0..<5_524_416).map { Float(($0 &* 7 &+ r) % 1000) }
        try c.allreduce(&values, .sum)
        // Sum over ranks k of (7i + k) mod 1000.
        checks.expectEqual(values, { i in Float((0..<n).reduce(0) { $0 + (i * 7 + $1) % 1000 }) }, "allreduce 5.5 M sum")
    }
    checks.run("allreduce of nothing") {
        var empty: [Float] = []
        try c.allreduce(&empty, .average)
        checks.expect(empty.isEmpty, "empty allreduce")
    }
    checks.run("broadcast Float from every root") {
        for root in 0..<n {
            var values = r == root ? (0..<4099).map { Float(root * 10_000 + $0) } : [Float](repeating: .nan, count: 4099)
            try c.broadcast(&values, root: root)
            checks.expectEqual(values, { Float(root * 10_000 + $0) }, "broadcast Float from \(root)")
        }
    }
    checks.run("broadcast Double") {
        let root = n - 1
        var values = r == root ? (0..<777).map { 1e300 / Double($0 + 1) } : [Double](repeating: -1, count: 777)
        try c.broadcast(&values, root: root)
        checks.expectEqual(values, { 1e300 / Double($0 + 1) }, "broadcast Double from \(root)")
    }
    checks.run("broadcast bytes") {
        for root in 0..<n {
            for length in [0, 1, 3 * root + 1, 70_001] {
                let mine = r == root ? pattern(rank: root, count: length) : pattern(rank: r, count: r * 5)  // others' input ignored
                let got = try c.broadcast(bytes: mine, root: root)
                checks.expect(got == pattern(rank: root, count: length), "broadcast of \(length) bytes from \(root): got \(got.count) bytes")
            }
        }
    }
    checks.run("allgather bytes") {
        // Rank k gives 5k bytes (rank 0 none), then every rank none, then rank 1 alone 1 MB.
        for lengths in [(0..<n).map { $0 * 5 }, [Int](repeating: 0, count: n), (0..<n).map { $0 == 1 ? 1 << 20 : 0 }] {
            let got = try c.allgather(bytes: pattern(rank: r, count: lengths[r]))
            checks.expect(got.count == n, "allgather returned \(got.count) arrays for \(n) ranks")
            for k in 0..<min(n, got.count) {
                checks.expect(got[k] == pattern(rank: k, count: lengths[k]), "allgather: rank \(k)'s \(lengths[k]) bytes came back as \(got[k].count) others")
            }
        }
    }
    checks.run("startAllreduce overlapping a computation") {
        var gradients = (0..<1_000_003).map { Float((r + 1) * ($0 % 509)) }
        var tests = 0
        var computed = 0.0
        try gradients.withUnsafeMutableBufferPointer { buffer in
            let request = try c.startAllreduce(buffer, .average)
            // Meanwhile: the sum of 0 ..< 2,000,000, in slices, letting MPI progress between them.
            for slice in 0..<100 {
                for i in slice * 20_000 ..< (slice + 1) * 20_000 { computed += Double(i) }
                tests += 1
                _ = try request.test()
            }
            try request.wait()
            checks.expect(try request.test(), "test() after wait()")
        }
        checks.expect(computed == 1_999_999.0 * 2_000_000 / 2, "the computation beside the allreduce: \(computed)")
        checks.expectEqual(gradients, { Float(n + 1) / 2 * Float($0 % 509) }, "startAllreduce average")
        // A request dropped without wait() waits for itself: the result is there afterwards.
        var dropped = (0..<1000).map { Double((r + 1) * $0) }
        try dropped.withUnsafeMutableBufferPointer { _ = try c.startAllreduce($0, .sum) }
        checks.expectEqual(dropped, { Double(triangle * $0) }, "dropped startAllreduce")
    }
    checks.run("broadcast from a root that is no rank") {
        do {
            _ = try c.broadcast(bytes: [1], root: n)
            checks.expect(false, "broadcast from root \(n) did not throw")
        } catch let error as CollectiveError {
            checks.expect(error == .invalidArgument(operation: "broadcast", rank: r, reason: "root \(n) is not a rank (0 ..< \(n))"), "\(error)")
        }
    }
    checks.run("barrier") {
        try c.barrier()
        let started = Date()
        if r == n - 1 { Thread.sleep(forTimeInterval: 0.5) }
        try c.barrier()
        // Nobody leaves the barrier before the last rank (asleep for 0.5 s) has entered it.
        let waited = Date().timeIntervalSince(started)
        checks.expect(waited >= 0.4, "barrier returned after \(waited) s while rank \(n - 1) slept 0.5 s")
    }
    checks.run("finalize") {
        try c.finalize()
        var values: [Float] = [1]
        do {
            try c.allreduce(&values, .sum)
            checks.expect(false, "allreduce after finalize() did not throw")
        } catch let error as CollectiveError {
            checks.expect(error == .finalized(operation: "allreduce", rank: r), "\(error)")
        }
    }
    checks.finish()
}

/// Rank 0 broadcasts 1000 floats; the other ranks offer only 10. MPI reports truncation to the ranks with the
/// short buffer: they must get a CollectiveError naming "broadcast" and their rank; rank 0 none.
func mismatch() -> Never {
    let c = start()
    let checks = Checks(rank: c.rank, size: c.size)
    var values = [Float](repeating: 1, count: c.rank == 0 ? 1000 : 10)
    var outcome: UInt8 = 0  // 1: as expected
    do {
        try c.broadcast(&values, root: 0)
        checks.expect(c.rank == 0, "broadcast into a short buffer did not throw")
        if c.rank == 0 { outcome = 1 }
    } catch let error as CollectiveError {
        print("rank \(c.rank) of \(c.size): \(error)")
        if case let .mpi(operation, rank, size, code, _) = error, operation == "broadcast", rank == c.rank, size == c.size, code != 0 {
            outcome = c.rank == 0 ? 0 : 1
        }
        checks.expect(outcome == 1, "unexpected error \(error)")
    } catch {
        checks.expect(false, "not a CollectiveError: \(error)")
    }
    // The ranks go on together after the error: every rank learns every rank's outcome.
    checks.run("allgather after the error") {
        let outcomes = try c.allgather(bytes: [outcome])
        checks.expect(outcomes == [[UInt8]](repeating: [1], count: c.size), "outcomes \(outcomes)")
        try c.finalize()
    }
    checks.finish()
}

/// The last rank dies (SIGKILL, or exit without finalize()) while the others are in allreduces.
func dieDuringAllreduce(kill: Bool) -> Never {
    let c = start()
    print("rank \(c.rank) of \(c.size): started")
    fflush(nil)
    var values = [Float](repeating: 1, count: 5_524_416)
    if c.rank == c.size - 1 {
        if kill {
            Thread.detachNewThread { Thread.sleep(forTimeInterval: 0.5); raise(SIGKILL) }
        } else {
            do { try c.allreduce(&values, .sum) } catch { fail("\(error)", status: 1) }
            exit(0)  // without finalize(): the launcher must end the job
        }
    }
    while true {
        do { try c.allreduce(&values, .average) } catch {
            c.abort(message: "rank \(c.rank): \(error)", code: 1)
        }
    }
}

/// The last rank sleeps and never joins; the others' allreduce has a deadline of `seconds`.
func stuck(seconds: Double) -> Never {
    let c = start(timeout: .milliseconds(Int(seconds * 1000)))
    print("rank \(c.rank) of \(c.size): started")
    fflush(nil)
    if c.rank == c.size - 1 {
        Thread.sleep(forTimeInterval: 600)
        exit(0)
    }
    var values = [Float](repeating: 1, count: 1000)
    do { try c.allreduce(&values, .sum) } catch { fail("\(error)", status: 1) }
    fail("the allreduce returned although rank \(c.size - 1) never joined", status: 1)
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "operations": operations()
case "mismatch": mismatch()
case "die": dieDuringAllreduce(kill: true)
case "exit": dieDuringAllreduce(kill: false)
case "stuck":
    guard arguments.count == 2, let seconds = Double(arguments[1]), seconds > 0 else { fail(usage, status: 64) }
    stuck(seconds: seconds)
default: fail(usage, status: 64)
}
