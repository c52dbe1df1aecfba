// Package ensuredeps holds the tests of scripts/ensure-deps.sh, the set-up that `make run`,
// `make test` and `make bench` go through: each test runs the script on a made-up machine (a
// PATH of stub docker, apt-get, sudo, brew, mariadbd, rabbitmq-server, mysql … commands that
// record their calls and keep their state in files) and checks which way it chose, the commands
// it ran, and the environment it hands to the suite. Nothing is installed or started.
package ensuredeps
