# The image docker-compose.yaml builds for every Airflow service: the official Airflow image, this project's
# fully pinned requirements.txt and its code. The tag must equal the apache-airflow pin in requirements.txt
# and the project's Python version (tests/test_docker_compose.py checks both).
FROM apache/airflow:3.3.2-python3.11

# The official way to add a requirements file: install as the airflow user and repeat the apache-airflow pin
# (AIRFLOW_VERSION is set by the base image) so pip can neither upgrade nor downgrade Airflow itself.
USER airflow
COPY --chown=airflow:root requirements.txt /requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt

# The same import names as in the local virtualenv, whose .pth file lists include/ and plugins/:
# `import lifecycle` (include/lifecycle) and `import lifecycle_providers` (plugins/lifecycle_providers).
ENV PYTHONPATH=/opt/airflow/include:/opt/airflow/plugins

# The code is baked in so the image also runs without bind mounts; docker-compose.yaml mounts the working
# tree over these folders. .dockerignore lets only dags/, plugins/, include/ and requirements.txt through.
COPY --chown=airflow:root . /opt/airflow/
