//! Reads credentials from a container credentials endpoint as the AWS SDK for Rust does
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN`), and prints
//! the access key id: the tests run it under `credtray exec` to check that the Rust SDK reads
//! credtray's endpoint.

use aws_credential_types::provider::ProvideCredentials;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let provider = aws_config::ecs::EcsCredentialsProvider::builder().build();
    match provider.provide_credentials().await {
        Ok(credentials) => println!("{}", credentials.access_key_id()),
        Err(e) => {
            eprintln!("ecs_probe: {e:?}");
            std::process::exit(1);
        }
    }
}
