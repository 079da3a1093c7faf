//! llm-drill's integration tests: one binary, a module per capability. Everything runs
//! in process against the mock server on 127.0.0.1 port 0 or wiremock; engine timing
//! runs under tokio's paused clock. No test reaches beyond loopback.

mod drill {
    pub mod accuracy;
    pub mod agents;
    pub mod bedrock;
    pub mod calibration;
    pub mod capacity;
    pub mod cli;
    pub mod cost;
    pub mod deploy;
    pub mod drills;
    pub mod endpoints;
    pub mod engine;
    pub mod faults;
    pub mod fuzz;
    pub mod hostile;
    pub mod http2;
    pub mod layers;
    pub mod metrics;
    pub mod mock_load;
    pub mod pilot;
    pub mod providers;
    pub mod reach;
    pub mod reasoning;
    pub mod registrations;
    pub mod replay;
    pub mod report;
    pub mod review;
    pub mod scenarios;
    pub mod sessions;
    pub mod shards;
    pub mod side;
    pub mod support;
    pub mod usage;
    pub mod vertex;
}
