"""influxdb"""
