import Foundation
import XCTest

/// The MPI backend with several ranks: `mpirun` starts `deepfake-collective-check` (it sits beside the test
/// bundle in the build folder), whose ranks check every result against closed-form values
/// (Sources/deepfake-collective-check). Loopback only: shared memory and TCP on `lo`.
final class MultiRankTests: XCTestCase {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double
    }

    /// `mpirun -np ranks deepfake-collective-check arguments`, killed (and failed) after `limit` seconds.
    func mpirun(_ ranks: Int, _ arguments: [String], limit: Double = 60) throws -> Run {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            throw XCTSkip("mpirun is not installed (Debian: openmpi-bin and libopenmpi-dev; scripts/install-deps installs them)")
        }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: folder.appendingPathComponent("deepfake-collective-check").path) {
            folder = Bundle.main.bundleURL
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mpirun-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("stdout"), err = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-np", "\(ranks)", "--oversubscribe",
                             "--mca", "btl", "self,vader,tcp", "--mca", "btl_vader_single_copy_mechanism", "none",
                             "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo",
                             folder.appendingPathComponent("deepfake-collective-check").path] + arguments
        // Tests may run as root (containers); mpirun refuses that unless told.
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1"]) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let started = Date()
        try process.run()
        while process.isRunning && Date().timeIntervalSince(started) < limit { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            process.terminate()  // mpirun passes SIGTERM on to the ranks
            let stopping = Date()
            while process.isRunning && Date().timeIntervalSince(stopping) < 5 { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            XCTFail("mpirun \(arguments) still running after \(limit) s: killed")
        }
        process.waitUntilExit()
        return Run(status: process.terminationStatus,
                   stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
                   stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self),
                   seconds: Date().timeIntervalSince(started))
    }

    func checkEveryOperation(ranks: Int) throws {
        let run = try mpirun(ranks, ["operations"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        for rank in 0..<ranks {
            XCTAssertNotNil(run.stdout.range(of: "rank \(rank) of \(ranks): [0-9]+ checks passed", options: .regularExpression),
                            run.stdout + run.stderr)
        }
        XCTAssertFalse(run.stdout.contains("FAIL"), run.stdout)
    }

    func testEveryOperationOnTwoRanks() throws { try checkEveryOperation(ranks: 2) }

    func testEveryOperationOnThreeRanks() throws { try checkEveryOperation(ranks: 3) }

    func testMPIErrorBecomesCollectiveErrorNamingOperationAndRank() throws {
        let run = try mpirun(2, ["mismatch"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("rank 1 of 2: collective broadcast failed on rank 1 of 2: MPI_ERR_TRUNCATE"), run.stdout)
        XCTAssertTrue(run.stdout.contains("rank 0 of 2: 2 checks passed") && run.stdout.contains("rank 1 of 2: 2 checks passed"), run.stdout)
    }

    /// A rank killed during a run of allreduces of 5.5 M floats: the launcher ends the job, no rank hangs.
    func testKilledRankEndsTheJob() throws {
        let run = try mpirun(2, ["die"])
        XCTAssertTrue(run.stdout.contains("rank 0 of 2: started") && run.stdout.contains("rank 1 of 2: started"), run.stdout + run.stderr)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertLessThan(run.seconds, 30)
    }

    /// A rank calling exit(0) without finalize() while the other waits in an allreduce: the job ends, not 0.
    func testRankExitingWithoutFinalizeEndsTheJob() throws {
        let run = try mpirun(2, ["exit"])
        XCTAssertTrue(run.stdout.contains("rank 0 of 2: started") && run.stdout.contains("rank 1 of 2: started"), run.stdout + run.stderr)
        XCTAssertEqual(run.status, 70, run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("deepfake: rank 1 exited without finalize(); ending the job (exit status 70)."), run.stderr)
        XCTAssertLessThan(run.seconds, 30)
    }

    /// A rank alive but absent from the allreduce: the other rank's watchdog ends the job after 2 s.
    func testWatchdogEndsTheJobWhenARankNeverJoins() throws {
        let run = try mpirun(2, ["stuck", "2"])
        XCTAssertEqual(run.status, 70, run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("collective allreduce on rank 0 of 2 did not finish within 2.0 seconds"), run.stderr)
        XCTAssertGreaterThanOrEqual(run.seconds, 2)
        XCTAssertLessThan(run.seconds, 30)
    }
}
