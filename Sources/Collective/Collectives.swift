import Foundation

/// Chooses the collective backend of this process at run time.
package enum Collectives {
    /// Which backend `start` uses.
    package enum Backend: Sendable {
        /// MPI when an MPI launcher started this process (see `launcherVariable`), else one rank.
        case automatic
        /// One rank, MPI untouched.
        case singleRank
        /// MPI, launcher or not (without one, MPI makes a job of one rank).
        case mpi
    }

    /// Starts this process's part of the job: `MPICollective` (calling `MPI_Init_thread`) when `backend`
    /// says so, else `SingleRankCollective`. Call it once per process, before starting threads that compute;
    /// end with `finalize()` (success) or `abort(message:code:)`.
    /// `timeout`: the deadline of each blocking MPI operation, after which the job ends (nil: wait for ever;
    /// a rank that dies still ends the job).
    package static func start(_ backend: Backend = .automatic, timeout: Duration? = nil,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any Collective {
        switch backend {
        case .singleRank: return SingleRankCollective()
        case .mpi: return try MPICollective(timeout: timeout)
        case .automatic:
            return launcherVariable(in: environment) == nil ? SingleRankCollective() : try MPICollective(timeout: timeout)
        }
    }

    /// The environment variable showing that an MPI launcher started this process, nil when none did:
    /// `OMPI_COMM_WORLD_SIZE` (Open MPI's mpirun), `PMIX_RANK` (PMIx: Open MPI, `srun --mpi=pmix`),
    /// `PMI_RANK` or `PMI_SIZE` (MPICH's mpiexec, `srun --mpi=pmi2`), or `SLURM_STEP_NUM_TASKS` with
    /// `SLURM_PROCID` (a task of `srun`; a batch script alone has SLURM_PROCID but is not a job step).
    package static func launcherVariable(in environment: [String: String]) -> String? {
        for name in ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"] where environment[name] != nil {
            return name
        }
        if environment["SLURM_STEP_NUM_TASKS"] != nil, environment["SLURM_PROCID"] != nil { return "SLURM_STEP_NUM_TASKS" }
        return nil
    }
}
