import Collective
import XCTest

extension Float16: CollectiveScalar {}  // a type MPI does not reduce here: must be refused

/// The one-process backend: every operation leaves the data as one rank's data, arguments are checked.
final class SingleRankCollectiveTests: XCTestCase {
    func testWithoutLauncherTheJobIsOneRankWithoutMPI() throws {
        let c = try Collectives.start(environment: ["PATH": "/usr/bin", "SLURM_PROCID": "0", "SLURM_JOB_ID": "7"])
        XCTAssertTrue(c is SingleRankCollective)
        XCTAssertEqual([c.rank, c.size, c.localRank, c.localSize], [0, 1, 0, 1])
        XCTAssertTrue(c.isRoot)
        XCTAssertEqual(c.threadsPerRank(cores: 8), 8)
        XCTAssertEqual(c.threadsPerRank(cores: 0), 1)
    }

    func testLauncherVariables() {
        XCTAssertNil(Collectives.launcherVariable(in: [:]))
        // An sbatch script has SLURM_PROCID but is no job step; srun's tasks are.
        XCTAssertNil(Collectives.launcherVariable(in: ["SLURM_PROCID": "0", "SLURM_NTASKS": "4"]))
        XCTAssertEqual(Collectives.launcherVariable(in: ["SLURM_PROCID": "3", "SLURM_STEP_NUM_TASKS": "4"]), "SLURM_STEP_NUM_TASKS")
        XCTAssertEqual(Collectives.launcherVariable(in: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"]), "OMPI_COMM_WORLD_SIZE")
        XCTAssertEqual(Collectives.launcherVariable(in: ["PMIX_RANK": "0"]), "PMIX_RANK")
        XCTAssertEqual(Collectives.launcherVariable(in: ["PMI_RANK": "0", "PMI_SIZE": "2"]), "PMI_RANK")
        XCTAssertEqual(Collectives.launcherVariable(in: ["PMI_SIZE": "2"]), "PMI_SIZE")
    }

    func testReductionsOfOneRankLeaveEveryBitAsItWas() throws {
        let c = SingleRankCollective()
        let floats: [Float] = [1.5, -0.0, .infinity, .leastNonzeroMagnitude, 3e38, Float(bitPattern: 0x7FC0_1234)]
        let doubles: [Double] = [1e300, -2.5, .leastNonzeroMagnitude, -.infinity]
        for operation in [ReduceOperation.sum, .average] {
            var f = floats, d = doubles
            try c.allreduce(&f, operation)
            try c.allreduce(&d, operation)
            XCTAssertEqual(f.map(\.bitPattern), floats.map(\.bitPattern))
            XCTAssertEqual(d.map(\.bitPattern), doubles.map(\.bitPattern))
            var empty: [Float] = []
            try c.allreduce(&empty, operation)
            XCTAssertEqual(empty, [])
        }
    }

    func testStartedAllreduceHasFinishedAtOnce() throws {
        let c = SingleRankCollective()
        var values: [Float] = [1, 2, 3]
        try values.withUnsafeMutableBufferPointer { buffer in
            let request = try c.startAllreduce(buffer, .average)
            XCTAssertTrue(try request.test())
            try request.wait()
            try request.wait()
        }
        XCTAssertEqual(values, [1, 2, 3])
    }

    func testBroadcastAndGatherReturnThisRanksData() throws {
        let c = SingleRankCollective()
        var values: [Double] = [4, 5]
        try c.broadcast(&values, root: 0)
        XCTAssertEqual(values, [4, 5])
        XCTAssertEqual(try c.broadcast(bytes: [9, 8, 7], root: 0), [9, 8, 7])
        XCTAssertEqual(try c.broadcast(bytes: [], root: 0), [])
        XCTAssertEqual(try c.allgather(bytes: [1, 2]), [[1, 2]])
        XCTAssertEqual(try c.allgather(bytes: []), [[]])
        try c.barrier()
    }

    func testRootOutsideTheRanksIsRefusedNamingIt() throws {
        let c = SingleRankCollective()
        var values: [Float] = [1]
        for root in [1, -1] {
            XCTAssertThrowsError(try c.broadcast(&values, root: root)) { error in
                XCTAssertEqual(error as? CollectiveError,
                               .invalidArgument(operation: "broadcast", rank: 0, reason: "root \(root) is not a rank (0 ..< 1)"))
            }
            XCTAssertThrowsError(try c.broadcast(bytes: [1], root: root)) { error in
                XCTAssertEqual("\(error)", "collective broadcast on rank 0: root \(root) is not a rank (0 ..< 1)")
            }
        }
    }

    func testElementTypesOtherThanFloatAndDoubleAreRefused() throws {
        let c = SingleRankCollective()
        var values: [Float16] = [1, 2]
        XCTAssertThrowsError(try c.allreduce(&values, .sum)) { error in
            XCTAssertEqual(error as? CollectiveError,
                           .invalidArgument(operation: "allreduce", rank: 0, reason: "element type Float16 is neither Float nor Double"))
        }
        XCTAssertThrowsError(try values.withUnsafeMutableBufferPointer { _ = try c.startAllreduce($0, .average) })
        XCTAssertThrowsError(try c.broadcast(&values, root: 0))
    }

    func testOperationsAfterFinalizeThrow() throws {
        let c = SingleRankCollective()
        try c.finalize()
        var values: [Float] = [1]
        XCTAssertThrowsError(try c.allreduce(&values, .sum)) { error in
            XCTAssertEqual(error as? CollectiveError, .finalized(operation: "allreduce", rank: 0))
            XCTAssertEqual("\(error)", "collective allreduce on rank 0 after finalize()")
        }
        XCTAssertThrowsError(try c.barrier())
        XCTAssertThrowsError(try c.allgather(bytes: []))
        XCTAssertThrowsError(try c.finalize())
    }

    func testMPIErrorDescriptionNamesOperationRankAndCode() {
        let error = CollectiveError.mpi(operation: "allreduce", rank: 3, size: 8, code: 15, message: "MPI_ERR_TRUNCATE: message truncated")
        XCTAssertEqual("\(error)", "collective allreduce failed on rank 3 of 8: MPI_ERR_TRUNCATE: message truncated (MPI error 15); "
                       + "the ranks may disagree about the operation or its buffer lengths")
    }
}
